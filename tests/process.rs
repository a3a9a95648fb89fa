//! Processes seen from outside: after 1,000 `spawn_process` + `join` rounds the interpreter
//! holds no more file descriptors than after one, and leaves no zombie children; children
//! die with a parent that is killed, and end on a Ctrl-C sent to the process group.

mod common;

/// Children of `pid` that are zombies (state Z in /proc/N/stat). Panics if /proc cannot
/// be read: a test that cannot look must not pass.
fn zombie_children(pid: u32) -> usize {
    let entries = std::fs::read_dir("/proc").expect("/proc must be readable for this test");
    entries
        .filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter(|stat| {
            // "pid (comm) state ppid ...": split after the last ')' so a comm with spaces is fine.
            let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
            let fields: Vec<&str> = rest.split_whitespace().collect();
            fields.len() > 1 && fields[0] == "Z" && fields[1] == pid.to_string()
        })
        .count()
}

/// Open descriptors of `pid`. Panics if they cannot be listed, and a live process always
/// has some (its standard streams), so an unreadable /proc can never pass as "no leak".
fn open_fds(pid: u32) -> usize {
    let n = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap_or_else(|e| panic!("cannot list /proc/{pid}/fd: {e}"))
        .count();
    assert!(
        n >= 3,
        "process {pid} shows only {n} descriptors: /proc is not telling the truth"
    );
    n
}

/// Runs `spawns` rounds, then signals readiness and waits, so the test can look inside.
fn fds_after(spawns: usize) -> (usize, usize) {
    let mut child = common::start_until_ready(&format!("process-{spawns}"), |ready| {
        format!(
            "spawn_process(fn() {{ return 0 }}).join()\n\
             for i in range({spawns}) {{ assert(spawn_process(fn(k) {{ return k }}, i).join() == i) }}\n\
             write_file({ready}, \"x\")\nsleep(60)\n"
        )
    });
    let found = (open_fds(child.id()), zombie_children(child.id()));
    let _ = child.kill();
    let _ = child.wait();
    found
}

#[test]
fn a_thousand_spawns_leak_no_descriptors_and_leave_no_zombies() {
    let (baseline, _) = fds_after(0);
    let (after, zombies) = fds_after(1000);
    assert_eq!(zombies, 0, "zombie children left behind");
    assert!(
        after <= baseline,
        "descriptors grew from {baseline} to {after} over 1,000 spawns"
    );
}

/// A parent killed outright (SIGKILL: no handler runs) takes its children with it: the
/// kernel's parent-death signal ends a sleeping child and a spinning one alike.
#[test]
fn children_die_with_a_killed_parent() {
    for (tag, body) in [("orphan-sleeping", "sleep(600)"), ("orphan-spinning", "while true { }")] {
        let (mut child, ready) = common::start_configured_until_ready(
            tag,
            |_| {},
            |ready| format!("let p = spawn_process(fn() {{ {body} }})\nwrite_file({ready}, str(p.pid))\np.join()\n"),
        );
        let pid = common::read_pid(&ready);
        common::send_signal("KILL", &child.id().to_string());
        let _ = child.wait();
        assert!(
            !common::survives(pid),
            "the child {pid} ({body}) outlived its killed parent"
        );
    }
}

/// Ctrl-C at a terminal signals the whole process group: a child spinning in bytecode gets
/// `Interrupt` too and ends; the parent reports it, and nothing is left running.
#[test]
fn ctrl_c_to_the_group_ends_the_children() {
    let (mut child, ready) = common::start_configured_until_ready(
        "group-interrupt",
        |c| {
            use std::os::unix::process::CommandExt;
            c.process_group(0);
        },
        |ready| {
            format!("let p = spawn_process(fn() {{ while true {{ }} }})\nwrite_file({ready}, str(p.pid))\np.join()\n")
        },
    );
    let pid = common::read_pid(&ready);
    std::thread::sleep(std::time::Duration::from_millis(50));
    common::send_signal("INT", &format!("-{}", child.id()));
    let status = common::exit_within(&mut child, std::time::Duration::from_secs(20), "Ctrl-C to the group");
    let out = child.wait_with_output().expect("toy exits");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("Interrupt: interrupted by Ctrl-C"), "{err}");
    assert!(!common::survives(pid), "the child {pid} outlived Ctrl-C");
}
