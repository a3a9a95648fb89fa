//! Processes seen from outside: after 1,000 `spawn_process` + `join` rounds the interpreter
//! holds no more file descriptors than after one, and leaves no zombie children.

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
