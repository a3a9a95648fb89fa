//! `Link`: the in-memory connection between an interpreter and one it spawned — two
//! mailboxes of wire frames (one each way), the child's final frame and how it ended, and
//! the child's eval breaker. The interpreters' counterpart of a socket pair: a message is
//! one `Vec<u8>` moved from the sender's encoder to the receiver's decoder, with no system
//! call unless the receiver sleeps.
//!
//! Invariants:
//! - A link holds bytes and atomics only — no interpreter values — so it is `Send + Sync`
//!   and is the only thing two interpreters share.
//! - Every change a waiter may be waiting for (a frame arrives, a side hangs up, the child
//!   ends) bumps the mailbox's `Signal` after the change, so a waiter that read the
//!   generation before looking never misses it.
//! - Frames leave a mailbox in the order they were put in; once a side has hung up, its
//!   mailbox takes no more frames, and a reader sees the frames already there before it
//!   sees the end.
//! - A long message may cross as a [`Stream`]: its place in the mailbox is taken when its
//!   first piece is ready, and its payload follows in pieces, in order, until the sender
//!   marks it complete or abandoned — which it always does, also when it unwinds (see
//!   [`StreamSender`]), so a reader never waits for a piece that will not come.

use crate::signal::Signal;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

/// Frames travelling one way.
#[derive(Debug, Default)]
pub struct Mailbox {
    state: Mutex<MailboxState>,
    /// Bumped when a frame arrives or the mailbox closes.
    pub signal: Signal,
    /// Whether its receiver should spin before it sleeps; see [`SpinLearner`].
    pub spin: SpinLearner,
    /// The receiver's buffer for the bytes of a streamed payload it must keep (an item cut by
    /// a piece's end, a map still open: see `wire::PieceDecoder`), kept between messages so
    /// that a long one is not written into fresh (never touched) memory each time.
    payload: Mutex<Vec<u8>>,
}

/// What a mailbox's receiver has learnt about spinning: after a spin that found nothing
/// (the sender is slow, or has no CPU to run on while the receiver spins — on a loaded
/// machine the spinner may be what keeps it off), the next waits go straight to sleep,
/// twice as many after each further miss, up to [`SpinLearner::MAX_SKIP`]; a spin that
/// finds its frame starts over. So a spin that does not pay costs little. The first spin
/// after skipping is a longer probe: the other side may be asleep too, and its answer
/// then comes only after its own wake-up, which a short spin would always miss — so two
/// sides that both went to sleeping would never find their way back to spinning.
#[derive(Debug, Default)]
pub struct SpinLearner {
    /// Waits still to skip the spin.
    skip: AtomicU32,
    /// How many to skip after the next miss (0: the last spin found its frame).
    penalty: AtomicU32,
}

/// How a wait should spin, as [`SpinLearner::how_to_spin`] decides.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SpinPlan {
    /// Sleep at once.
    Skip,
    /// The short spin: the last one paid.
    Short,
    /// A longer probe, after a run of skipped spins.
    Probe,
}

impl SpinLearner {
    /// The longest run of waits without a spin.
    pub const MAX_SKIP: u32 = 255;

    /// How this wait should spin (counting it if it skips). Relaxed: a guess shared by the
    /// receiver's threads, never what decides that a wait is over.
    pub fn how_to_spin(&self) -> SpinPlan {
        let skip = self.skip.load(Ordering::Relaxed);
        if skip > 0 {
            self.skip.store(skip - 1, Ordering::Relaxed);
            return SpinPlan::Skip;
        }
        if self.penalty.load(Ordering::Relaxed) == 0 {
            SpinPlan::Short
        } else {
            SpinPlan::Probe
        }
    }

    /// How the spin went: found the change it waited for, or not.
    pub fn record(&self, found: bool) {
        if found {
            self.penalty.store(0, Ordering::Relaxed);
        } else {
            let next = (self.penalty.load(Ordering::Relaxed) * 2 + 1).min(Self::MAX_SKIP);
            self.penalty.store(next, Ordering::Relaxed);
            self.skip.store(next, Ordering::Relaxed);
        }
    }
}

#[derive(Debug, Default)]
struct MailboxState {
    frames: VecDeque<Entry>,
    /// The sender hung up (or the receiver is gone): no frame will arrive any more.
    closed: bool,
}

/// A message in a mailbox.
#[derive(Debug)]
enum Entry {
    /// A whole frame, length prefix first.
    Frame(Vec<u8>),
    /// A long message whose payload is still arriving.
    Stream(Arc<Stream>),
}

/// What [`Mailbox::take`] found.
#[derive(Debug)]
pub enum Taken {
    Frame(Vec<u8>),
    /// A message that crosses in pieces: read it with [`Stream::take_pieces`].
    Stream(Arc<Stream>),
    /// Nothing yet; the sender may still send.
    Empty,
    /// Nothing, and nothing will come.
    Closed,
}

impl Mailbox {
    /// Puts a whole frame in; false (and the frame is dropped) if the mailbox is closed.
    pub fn put(&self, frame: Vec<u8>) -> bool {
        {
            let mut st = self.state.lock();
            if st.closed {
                return false;
            }
            st.frames.push_back(Entry::Frame(frame));
        }
        self.signal.bump();
        true
    }

    /// Starts a message that crosses in pieces: its place in the mailbox is taken now,
    /// its payload follows through the sender. None if the mailbox is closed.
    pub fn put_stream(&self) -> Option<StreamSender<'_>> {
        let stream = Arc::new(Stream::default());
        {
            let mut st = self.state.lock();
            if st.closed {
                return None;
            }
            st.frames.push_back(Entry::Stream(stream.clone()));
        }
        self.signal.bump();
        Some(StreamSender {
            mailbox: self,
            stream,
            ended: false,
        })
    }

    /// The oldest message, if any.
    pub fn take(&self) -> Taken {
        let mut st = self.state.lock();
        match st.frames.pop_front() {
            Some(Entry::Frame(f)) => Taken::Frame(f),
            Some(Entry::Stream(s)) => Taken::Stream(s),
            None if st.closed => Taken::Closed,
            None => Taken::Empty,
        }
    }

    /// The receiver's payload buffer, empty (its capacity kept from earlier messages);
    /// give it back with [`Mailbox::give_back_buffer`].
    pub fn take_buffer(&self) -> Vec<u8> {
        let mut buf = std::mem::take(&mut *self.payload.lock());
        buf.clear();
        buf
    }

    /// Keeps `buf` for the next streamed payload.
    pub fn give_back_buffer(&self, buf: Vec<u8>) {
        *self.payload.lock() = buf;
    }

    /// No more frames will be put in; those already there can still be taken.
    pub fn close(&self) {
        self.state.lock().closed = true;
        self.signal.bump();
    }

    /// Whether the mailbox has been closed.
    pub fn is_closed(&self) -> bool {
        self.state.lock().closed
    }
}

/// How a streamed message ended.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum StreamEnd {
    /// Every piece is there.
    Complete,
    /// The sender could not finish it: the reader drops what it got.
    Abandoned,
}

/// The payload of one long message, arriving in pieces (see the module docs). Written
/// only through a [`StreamSender`], read by the one reader that took it from the mailbox.
#[derive(Debug, Default)]
pub struct Stream {
    state: Mutex<StreamState>,
}

#[derive(Debug, Default)]
struct StreamState {
    pieces: VecDeque<Vec<u8>>,
    end: Option<StreamEnd>,
}

impl Stream {
    /// The pieces that have arrived, in order, and the end, once every piece before it has
    /// been taken. The pieces are moved out, not copied: the reader decodes them where they
    /// lie, outside the lock, so the sender is not held up meanwhile.
    pub fn take_pieces(&self) -> (VecDeque<Vec<u8>>, Option<StreamEnd>) {
        let mut st = self.state.lock();
        (std::mem::take(&mut st.pieces), st.end)
    }
}

/// The sending end of a [`Stream`]: each piece and the end wake the mailbox's reader. A
/// stream dropped without [`StreamSender::end`] (its sender unwound) is abandoned.
pub struct StreamSender<'m> {
    mailbox: &'m Mailbox,
    stream: Arc<Stream>,
    ended: bool,
}

impl StreamSender<'_> {
    /// The next piece of the payload.
    pub fn piece(&self, piece: Vec<u8>) {
        self.stream.state.lock().pieces.push_back(piece);
        self.mailbox.signal.bump();
    }

    /// The last piece has been sent (`Complete`), or the message is given up (`Abandoned`).
    pub fn end(mut self, end: StreamEnd) {
        self.finish(end);
    }

    fn finish(&mut self, end: StreamEnd) {
        if !self.ended {
            self.ended = true;
            self.stream.state.lock().end = Some(end);
            self.mailbox.signal.bump();
        }
    }
}

impl Drop for StreamSender<'_> {
    fn drop(&mut self) {
        self.finish(StreamEnd::Abandoned);
    }
}

/// How a spawned interpreter ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Ending {
    /// Its function returned or threw: the final frame (`[kind, value]`, a wire frame with
    /// its length prefix), as a child process sends it.
    Frame(Vec<u8>),
    /// `exit(code)`, or a failure that left no frame (the reason is in the text).
    Exit(i32),
    /// It could not start or it crashed: why.
    Failed(String),
}

/// The connection between a parent interpreter and the interpreter it spawned.
#[derive(Debug, Default)]
pub struct Link {
    /// Messages from the parent (`i.send`) to the child (`parent().recv`).
    pub to_child: Mailbox,
    /// Messages from the child (`parent().send`) to the parent (`i.recv`); its signal is
    /// also bumped when the child ends.
    pub to_parent: Mailbox,
    /// Whether the child has ended, and how (until the parent takes it).
    ending: Mutex<(bool, Option<Ending>)>,
    /// The child's eval breaker, once its lock exists (Ctrl-C and `exit` reach it here).
    pub breaker: Mutex<Option<Arc<AtomicU32>>>,
}

impl Link {
    /// A new link, shared by both sides.
    pub fn new() -> Arc<Link> {
        Arc::new(Link::default())
    }

    /// The child records how it ended (once: a later call is ignored) and wakes the parent.
    pub fn end(&self, ending: Ending) {
        {
            let mut e = self.ending.lock();
            if !e.0 {
                *e = (true, Some(ending));
            }
        }
        self.to_child.close();
        self.to_parent.close();
    }

    /// How the child ended, taken out (by the one parent), if it has ended and this was
    /// not taken before.
    pub fn take_ending(&self) -> Option<Ending> {
        self.ending.lock().1.take()
    }

    /// Whether the child has ended.
    pub fn has_ended(&self) -> bool {
        self.ending.lock().0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_keeps_its_place_and_its_pieces_their_order() {
        let m = Mailbox::default();
        assert!(m.put(vec![1]));
        let sender = m.put_stream().expect("an open mailbox");
        assert!(m.put(vec![2]));
        sender.piece(vec![10, 11]);
        sender.piece(vec![12]);
        assert!(matches!(m.take(), Taken::Frame(f) if f == vec![1]));
        let Taken::Stream(stream) = m.take() else {
            panic!("the stream comes second")
        };
        let (pieces, end) = stream.take_pieces();
        assert_eq!((Vec::from(pieces), end), (vec![vec![10, 11], vec![12]], None));
        sender.piece(vec![13]);
        sender.end(StreamEnd::Complete);
        let (pieces, end) = stream.take_pieces();
        assert_eq!((Vec::from(pieces), end), (vec![vec![13]], Some(StreamEnd::Complete)));
        assert!(matches!(m.take(), Taken::Frame(f) if f == vec![2]));
    }

    #[test]
    fn a_stream_dropped_unfinished_is_abandoned_and_wakes_its_reader() {
        let m = Mailbox::default();
        let seen = m.signal.generation();
        let sender = m.put_stream().expect("an open mailbox");
        let Taken::Stream(stream) = m.take() else {
            panic!("a stream")
        };
        let before = m.signal.generation();
        assert_ne!(before, seen);
        drop(sender);
        assert!(m.signal.changed_since(before));
        assert_eq!(stream.take_pieces().1, Some(StreamEnd::Abandoned));
    }

    #[test]
    fn a_closed_mailbox_takes_no_stream() {
        let m = Mailbox::default();
        m.close();
        assert!(m.put_stream().is_none());
        assert!(matches!(m.take(), Taken::Closed));
    }

    #[test]
    fn the_spin_learner_backs_off_after_misses_probes_and_starts_over_after_a_hit() {
        let l = SpinLearner::default();
        assert_eq!(l.how_to_spin(), SpinPlan::Short);
        l.record(false);
        assert_eq!(l.how_to_spin(), SpinPlan::Skip, "one wait skipped after the first miss");
        assert_eq!(l.how_to_spin(), SpinPlan::Probe);
        l.record(false);
        let skipped = (0..10).take_while(|_| l.how_to_spin() == SpinPlan::Skip).count();
        assert_eq!(skipped, 3, "twice as many, and one more, after the second miss");
        for _ in 0..20 {
            l.record(false);
        }
        let skipped = (0..1000).take_while(|_| l.how_to_spin() == SpinPlan::Skip).count();
        assert_eq!(skipped, SpinLearner::MAX_SKIP as usize);
        l.record(true);
        assert_eq!(
            l.how_to_spin(),
            SpinPlan::Short,
            "a hit: the short spin every time again"
        );
        assert_eq!(l.how_to_spin(), SpinPlan::Short);
    }

    #[test]
    fn the_payload_buffer_comes_back_empty_with_its_room() {
        let m = Mailbox::default();
        let mut buf = m.take_buffer();
        buf.extend_from_slice(&[1; 1000]);
        m.give_back_buffer(buf);
        let buf = m.take_buffer();
        assert!(buf.is_empty() && buf.capacity() >= 1000);
    }
}
