//! OS threads kept for reuse by toy threads. A toy thread runs on an idle OS thread when
//! one is waiting, and the OS thread that ran it then waits for the next one, for up to
//! `IDLE_FOR`, before it ends. Starting and ending an OS thread costs this host about
//! 80 µs — the clone, the mappings of its stack and signal stack, and the TLB shootdowns
//! their unmapping sends to every other CPU — while handing a toy thread to a waiting OS
//! thread costs one wake-up: `spawn` and `join` of a function that returns at once, 64
//! at a time, went from 108–178 µs a thread to 18–29 µs.
//!
//! Invariants:
//! - A job goes to exactly one OS thread: an idle worker taken out of the idle list under
//!   the pool's lock, or a new one. A worker leaves the idle list only under that lock and
//!   ends only after leaving it, so no job is handed to a worker that is ending.
//! - A worker made in this pool's lifetime has its `JoinHandle` in the pool until it ends;
//!   one that has decided to end is joined by the next `hold_for_fork`, which keeps the
//!   lock across the fork, so no worker is inside the C library's thread start-up or exit
//!   when the process is copied (and none can start to end meanwhile).
//! - In a forked child the parent's workers do not exist: `ForkHold::in_child` forgets
//!   them, and the child's own workers never end — a stack freed in a forked child makes
//!   the C library trim its cache of stacks, unmapping those of the parent's threads (see
//!   `threads::spawn`).
//!
//! Built on std's mutex and condition variable, like `signal::Signal`: they keep their
//! whole state in the object. In a forked child the parent's workers' mutexes are never
//! touched again, and the pool's own lock is the one the forking thread held across the
//! fork, which the child's copy of that thread releases.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

/// What a worker runs: a toy thread's whole life, from taking the GIL to letting it go.
pub type Job = Box<dyn FnOnce() + Send>;

/// How long a worker waits, idle, for another job before it ends.
const IDLE_FOR: Duration = Duration::from_millis(500);

/// The most workers kept idle at once; a worker that would be one more ends instead.
const MAX_IDLE: usize = 256;

/// One OS thread of the pool, as the pool and the thread both see it.
struct Worker {
    id: u64,
    /// The next job, put here by `run` after taking the worker out of the idle list.
    job: Mutex<Option<Job>>,
    handed: Condvar,
}

#[derive(Default)]
struct Pool {
    /// Workers waiting for a job, the most recently idle last (handed out first: its
    /// stack is the likeliest to be in the caches).
    idle: Vec<Arc<Worker>>,
    /// The handles of the workers that have not decided to end, by id.
    running: HashMap<u64, JoinHandle<()>>,
    /// The handles of workers that have decided to end: they are ending or gone.
    ending: Vec<JoinHandle<()>>,
    next_id: u64,
}

/// A pool of OS threads; the interpreter's is [`THREADS`] (tests make their own).
pub struct Threads(Mutex<Option<Pool>>);

/// The process's pool, shared by every interpreter in it.
pub static THREADS: Threads = Threads::new();

fn lock_job(worker: &Worker) -> MutexGuard<'_, Option<Job>> {
    worker.job.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Threads {
    pub const fn new() -> Threads {
        Threads(Mutex::new(None))
    }

    fn lock(&self) -> MutexGuard<'_, Option<Pool>> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `job` on an idle worker, or on a new OS thread named `name` with a stack of
    /// `stack` bytes; the error of the thread's creation if one was needed and failed, or
    /// was refused for want of room (the job is then dropped, unrun).
    pub fn run(&'static self, name: &str, stack: usize, job: Job) -> std::io::Result<()> {
        let mut guard = self.lock();
        let pool = guard.get_or_insert_with(Pool::default);
        pool.join_ended();
        if let Some(worker) = pool.idle.pop() {
            drop(guard);
            *lock_job(&worker) = Some(job);
            worker.handed.notify_one();
            return Ok(());
        }
        // A thread the system cannot finish starting would abort the process from inside
        // std's start-up: refuse it here instead.
        crate::thread_room::room_for_thread(stack).map_err(std::io::Error::other)?;
        let worker = Arc::new(Worker {
            id: pool.next_id,
            job: Mutex::new(None),
            handed: Condvar::new(),
        });
        pool.next_id += 1;
        let id = worker.id;
        // Made under the lock, so the handle is in `running` before the worker can look
        // for it on deciding to end.
        let handle = std::thread::Builder::new()
            .name(name.to_string())
            .stack_size(stack)
            .spawn(move || self.work(&worker, job))?;
        pool.running.insert(id, handle);
        Ok(())
    }

    /// Waits for the workers that have decided to end and keeps any other from deciding
    /// until the hold is dropped (in the parent) or `in_child` is called (in the child).
    pub fn hold_for_fork(&self) -> ForkHold<'_> {
        let mut guard = self.lock();
        if let Some(pool) = guard.as_mut() {
            for handle in std::mem::take(&mut pool.ending) {
                let _ = handle.join();
            }
        }
        ForkHold(guard)
    }

    /// A worker's life: its first job, then each job it is handed, until it ends.
    fn work(&self, me: &Arc<Worker>, first: Job) {
        let mut job = Some(first);
        while let Some(next) = job.take() {
            next();
            job = self.next_job(me);
        }
    }

    /// Waits, idle, for the next job; `None` once the worker has left the pool to end.
    fn next_job(&self, me: &Arc<Worker>) -> Option<Job> {
        let in_child = crate::signal::fork_generation() > 0;
        {
            let mut guard = self.lock();
            let pool = guard.as_mut()?;
            if pool.idle.len() >= MAX_IDLE && !in_child {
                pool.decide_to_end(me.id);
                return None;
            }
            pool.idle.push(me.clone());
        }
        let mut job = lock_job(me);
        loop {
            if let Some(next) = job.take() {
                return Some(next);
            }
            let timed_out;
            (job, timed_out) = if in_child {
                (me.handed.wait(job).unwrap_or_else(|p| p.into_inner()), false)
            } else {
                let (job, timeout) = me.handed.wait_timeout(job, IDLE_FOR).unwrap_or_else(|p| p.into_inner());
                (job, timeout.timed_out())
            };
            if timed_out && job.is_none() {
                drop(job);
                let mut guard = self.lock();
                let pool = guard.as_mut()?;
                if let Some(at) = pool.idle.iter().position(|w| Arc::ptr_eq(w, me)) {
                    pool.idle.swap_remove(at);
                    pool.decide_to_end(me.id);
                    return None;
                }
                // Taken out of the idle list by `run` meanwhile: the job is on its way.
                drop(guard);
                job = lock_job(me);
            }
        }
    }
}

impl Pool {
    fn decide_to_end(&mut self, id: u64) {
        if let Some(handle) = self.running.remove(&id) {
            self.ending.push(handle);
        }
    }

    /// Joins the workers that have ended, so their handles do not pile up.
    fn join_ended(&mut self) {
        if self.ending.iter().any(JoinHandle::is_finished) {
            let (gone, left) = std::mem::take(&mut self.ending)
                .into_iter()
                .partition(JoinHandle::is_finished);
            self.ending = left;
            for handle in gone {
                let _ = handle.join();
            }
        }
    }
}

/// The pool's lock, held across a fork by the forking thread (see the module docs).
pub struct ForkHold<'p>(MutexGuard<'p, Option<Pool>>);

impl ForkHold<'_> {
    /// In the forked child: the parent's workers and their handles name threads that do
    /// not exist here, so they are forgotten, unused; the child starts its own.
    pub fn in_child(mut self) {
        std::mem::forget(self.0.take());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::mpsc;
    use std::thread::ThreadId;
    use std::time::Instant;

    const STACK: usize = 1 << 20;

    fn until(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting until {what}");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn counts(threads: &Threads) -> (usize, usize, usize) {
        let guard = threads.lock();
        guard
            .as_ref()
            .map_or((0, 0, 0), |p| (p.idle.len(), p.running.len(), p.ending.len()))
    }

    /// Runs a job that sends the id of the OS thread it runs on.
    fn report_thread(threads: &'static Threads, to: &mpsc::Sender<ThreadId>) {
        let to = to.clone();
        let job = Box::new(move || to.send(std::thread::current().id()).unwrap());
        threads.run("pool-test", STACK, job).unwrap();
    }

    /// Runs one job and waits until its OS thread is idle in the pool: that thread's id,
    /// and the channel the next jobs of `report_thread` report on.
    fn one_idle_worker(threads: &'static Threads) -> (ThreadId, mpsc::Sender<ThreadId>, mpsc::Receiver<ThreadId>) {
        let (tx, rx) = mpsc::channel();
        report_thread(threads, &tx);
        let worker = rx.recv().unwrap();
        until("the worker is idle", || counts(threads).0 == 1);
        (worker, tx, rx)
    }

    #[test]
    fn the_next_job_runs_on_the_thread_of_a_finished_one() {
        static THREADS: Threads = Threads::new();
        let (first, tx, rx) = one_idle_worker(&THREADS);
        report_thread(&THREADS, &tx);
        assert_eq!(rx.recv().unwrap(), first);
        assert_eq!(counts(&THREADS).1, 1, "one OS thread was made");
    }

    #[test]
    fn an_idle_worker_ends_and_a_fork_hold_waits_for_it() {
        static THREADS: Threads = Threads::new();
        THREADS.run("pool-test", STACK, Box::new(|| {})).unwrap();
        until("the worker has decided to end", || counts(&THREADS) == (0, 0, 1));
        let hold = THREADS.hold_for_fork();
        assert!(hold.0.as_ref().unwrap().ending.is_empty(), "joined");
        drop(hold);
        let (tx, rx) = mpsc::channel();
        THREADS
            .run("pool-test", STACK, Box::new(move || tx.send(()).unwrap()))
            .unwrap();
        rx.recv().unwrap();
        assert_eq!(counts(&THREADS).1, 1, "a new OS thread ran the next job");
    }

    #[test]
    fn every_job_runs_once_however_spawners_and_workers_race() {
        static THREADS: Threads = Threads::new();
        let ran = Arc::new(AtomicUsize::new(0));
        let spawners: Vec<_> = (0..4)
            .map(|_| {
                let ran = ran.clone();
                std::thread::spawn(move || {
                    for _ in 0..200 {
                        let ran = ran.clone();
                        let job = Box::new(move || {
                            ran.fetch_add(1, SeqCst);
                        });
                        THREADS.run("pool-test", STACK, job).unwrap();
                    }
                })
            })
            .collect();
        for spawner in spawners {
            spawner.join().unwrap();
        }
        until("all 800 jobs ran", || ran.load(SeqCst) >= 800);
        // Once every worker is idle, no job is left to run: none ran twice.
        until("every worker is idle", || {
            let (idle, running, _) = counts(&THREADS);
            idle == running
        });
        assert_eq!(ran.load(SeqCst), 800, "each job ran once");
        let (_, running, ending) = counts(&THREADS);
        assert!(running + ending < 800, "OS threads were reused: {running} + {ending}");
    }

    #[test]
    fn a_child_forgets_the_workers_of_its_parent() {
        static THREADS: Threads = Threads::new();
        let (parents, tx, rx) = one_idle_worker(&THREADS);
        THREADS.hold_for_fork().in_child();
        assert!(THREADS.lock().is_none());
        // No job can reach the forgotten worker: the next one gets an OS thread of its own.
        report_thread(&THREADS, &tx);
        assert_ne!(rx.recv().unwrap(), parents);
        assert_eq!(counts(&THREADS).1, 1);
    }
}
