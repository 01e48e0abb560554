//! Lock-step threads: a few threads, each of which runs one lock-step transfer at a time with a
//! blocking `recv` on its socket ([`Transfer::run_blocking`]).
//!
//! A lock-step transfer (window size 1, what PXE ROMs, tftp-hpa and curl ask for) sends one
//! block per round trip, so its speed is the cost of one wake-up per block. On the event loop
//! that wake-up goes through `epoll`: the ACK's delivery runs `epoll`'s callback, then wakes
//! the worker in `epoll_wait`, which dispatches to the transfer's task. A thread blocked in
//! `recv` on the one socket is woken by the delivery itself, as tftpd-hpa and atftpd are
//! (a thread per transfer), and each block costs 5–8 % less on both sides
//! (`benches/README.md`). So the first transfers to need it take these threads, as many as
//! there are CPUs, and every other transfer stays on the event loop: 10 000 transfers still
//! run on the runtime's workers plus this fixed few.
//!
//! A transfer moves here only once its client has answered (the ACK of the OACK or of the
//! first block): a flood of requests that are never answered never reaches these threads.

use std::io;
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, mpsc};

use tokio::sync::{oneshot, watch};

use super::transfer::{Summary, Transfer};

/// Stack of a lock-step thread: a transfer's buffers are on the heap, and the deepest call is
/// a log line.
const STACK_SIZE: usize = 256 << 10;

/// A transfer handed to a lock-step thread, with what it needs there.
#[derive(Debug)]
pub struct Job {
    /// The transfer, as the event loop left it.
    pub transfer: Transfer,
    /// The address its socket is bound to.
    pub local: SocketAddr,
    /// The server's stop flag.
    pub stop: watch::Receiver<bool>,
    /// The thread's place, given back when the transfer ends.
    pub seat: Seat,
    /// Where the transfer's summary goes: its task on the event loop waits for it.
    pub done: oneshot::Sender<Summary>,
}

/// The lock-step threads, fed through one channel (a job is boxed: a transfer is over a
/// kilobyte). Dropped, the channel closes and each thread
/// ends once its transfer has.
#[derive(Debug)]
pub struct Pool {
    jobs: mpsc::Sender<Box<Job>>,
    /// Threads without a transfer (taken by [`Pool::seat`] before a job is sent).
    idle: Arc<AtomicUsize>,
}

/// A lock-step thread reserved for one transfer; given back when dropped.
#[derive(Debug)]
pub struct Seat(Arc<AtomicUsize>);

impl Drop for Seat {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }
}

impl Pool {
    /// Starts `threads` lock-step threads (none: every transfer stays on the event loop). A
    /// thread that cannot be started leaves the pool smaller: the pool never fails as a whole,
    /// and the error of the first thread that could not start comes with it, for the log.
    pub fn start(threads: usize) -> (Self, Option<io::Error>) {
        let (jobs, queue) = mpsc::channel::<Box<Job>>();
        let queue = Arc::new(Mutex::new(queue));
        let mut started = 0;
        let mut failed = None;
        for i in 0..threads {
            let queue = Arc::clone(&queue);
            let spawned = std::thread::Builder::new()
                .name(format!("tftp-lockstep-{i}"))
                .stack_size(STACK_SIZE)
                .spawn(move || serve(&queue));
            match spawned {
                Ok(_) => started += 1,
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        let pool = Self {
            jobs,
            idle: Arc::new(AtomicUsize::new(started)),
        };
        (pool, failed)
    }

    /// A free thread's seat, if any thread is free.
    pub fn seat(&self) -> Option<Seat> {
        self.idle
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .ok()
            .map(|_| Seat(Arc::clone(&self.idle)))
    }

    /// Hands `job` to whichever thread is free: its seat counted one out, so one is (or is
    /// about to be, between giving a seat back and waiting for the next job).
    ///
    /// # Errors
    ///
    /// Every thread has ended (none can while the pool lives, short of a bug): the job comes
    /// back.
    pub fn send(&self, job: Box<Job>) -> Result<(), Box<Job>> {
        self.jobs.send(job).map_err(|e| e.0)
    }
}

/// A lock-step thread: runs the jobs it is given until the pool is dropped.
fn serve(queue: &Mutex<mpsc::Receiver<Box<Job>>>) {
    loop {
        // The lock is held only while waiting: whichever thread waits takes the next job.
        let next = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok(job) = next else {
            return;
        };
        let Job {
            transfer,
            local,
            stop,
            seat,
            done,
        } = *job;
        // A bug in one transfer must not take the thread, and with it a seat, away for good:
        // its task then gets no summary and reports the transfer unfinished.
        let summary = catch_unwind(AssertUnwindSafe(|| transfer.run_blocking(local, &stop)));
        drop(seat);
        if let Ok(summary) = summary {
            let _ = done.send(summary);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seats_run_out_and_come_back() {
        let (pool, failed) = Pool::start(2);
        assert!(failed.is_none());
        let a = pool.seat().expect("first seat");
        let b = pool.seat().expect("second seat");
        assert!(pool.seat().is_none(), "only two threads");
        drop(a);
        let c = pool.seat().expect("a seat given back is free again");
        drop((b, c));
        assert_eq!(pool.idle.load(Ordering::Acquire), 2);
    }

    #[test]
    fn a_pool_of_none_never_gives_a_seat() {
        let (pool, _) = Pool::start(0);
        assert!(pool.seat().is_none());
    }
}
