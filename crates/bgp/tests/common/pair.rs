//! Two in-memory peers joined back to back: what one sends, the other
//! receives. Lets whole sessions run without a socket.
use leafvip_bgp::peer::Peer;
use leafvip_bgp::session::{Action, Event, SessionConfig};
use leafvip_bgp::wire::{Context, Message};
use leafvip_bgp::Instant;

pub struct Pair {
    pub a: Peer,
    pub b: Peer,
    pub now: Instant,
    /// Every action each side produced, in order.
    pub a_log: Vec<Action>,
    pub b_log: Vec<Action>,
    /// Whether the "wire" between them is up; a cut wire drops bytes.
    pub linked: bool,
}

impl Pair {
    pub fn new(a: SessionConfig, b: SessionConfig) -> Self {
        Pair {
            a: Peer::new(a),
            b: Peer::new(b),
            now: Instant::ZERO,
            a_log: vec![],
            b_log: vec![],
            linked: false,
        }
    }

    /// Delivers `actions` from side `from_a` and everything they cause,
    /// then pumps UPDATEs out of both sides until neither has any, as a
    /// runtime does whenever its send buffer has room.
    pub fn run(&mut self, from_a: bool, actions: Vec<Action>) {
        self.deliver(from_a, actions);
        loop {
            if self.a.wants_to_send() {
                let x = self.a.pump(self.now);
                self.deliver(true, x);
            } else if self.b.wants_to_send() {
                let x = self.b.pump(self.now);
                self.deliver(false, x);
            } else {
                break;
            }
        }
    }

    /// Delivers `actions` from side `from_a` and everything they cause,
    /// without pumping.
    pub fn deliver(&mut self, from_a: bool, actions: Vec<Action>) {
        let mut queue: Vec<(bool, Action)> = actions.into_iter().map(|x| (from_a, x)).collect();
        while !queue.is_empty() {
            let (side, action) = queue.remove(0);
            let now = self.now;
            let reply: Vec<Action>;
            let to_a = !side;
            match &action {
                Action::Connect => {
                    // The other side accepts if it can; then both learn of it.
                    let other = if side { &mut self.b } else { &mut self.a };
                    if other.session().can_accept() {
                        self.linked = true;
                        let acc = other.handle_event(now, Event::Accepted);
                        let me = if side { &mut self.a } else { &mut self.b };
                        let con = me.handle_event(now, Event::Connected);
                        queue.extend(con.into_iter().map(|x| (side, x)));
                        queue.extend(acc.into_iter().map(|x| (!side, x)));
                    } else {
                        let me = if side { &mut self.a } else { &mut self.b };
                        let f = me.handle_event(now, Event::ConnectionFailed);
                        queue.extend(f.into_iter().map(|x| (side, x)));
                    }
                }
                Action::Send(bytes) if self.linked => {
                    let target = if to_a { &mut self.a } else { &mut self.b };
                    reply = target.handle_event(now, Event::Received(bytes));
                    queue.extend(reply.into_iter().map(|x| (to_a, x)));
                }
                Action::Disconnect if self.linked => {
                    self.linked = false;
                    let target = if to_a { &mut self.a } else { &mut self.b };
                    reply = target.handle_event(now, Event::ConnectionFailed);
                    queue.extend(reply.into_iter().map(|x| (to_a, x)));
                }
                _ => {}
            }
            if side {
                self.a_log.push(action)
            } else {
                self.b_log.push(action)
            }
        }
    }

    pub fn start(&mut self) {
        let b = self.b.handle_event(self.now, Event::Start);
        self.run(false, b);
        let a = self.a.handle_event(self.now, Event::Start);
        self.run(true, a);
    }

    /// Moves time forward to `t`, firing every timer on the way in order.
    pub fn advance_to(&mut self, t: Instant) {
        loop {
            let next = [self.a.poll_at(), self.b.poll_at()]
                .into_iter()
                .flatten()
                .filter(|d| *d <= t)
                .min();
            let Some(d) = next else { break };
            self.now = d;
            if self.a.poll_at() == Some(d) {
                let x = self.a.handle_event(d, Event::Timer);
                self.run(true, x);
            }
            if self.b.poll_at() == Some(d) {
                let x = self.b.handle_event(d, Event::Timer);
                self.run(false, x);
            }
        }
        self.now = t;
    }

    /// Decoded messages that side A sent, using `ctx` for UPDATEs.
    pub fn sent_by_a(&self, ctx: &Context) -> Vec<Message> {
        self.a_log
            .iter()
            .filter_map(|x| match x {
                Action::Send(b) => Message::parse(b, ctx).ok(),
                _ => None,
            })
            .collect()
    }

    /// The UPDATEs side A sent, decoded with its negotiated send context.
    pub fn updates_sent_by_a(&self) -> Vec<leafvip_bgp::wire::Update> {
        let ctx = self
            .a
            .session()
            .negotiated()
            .expect("established")
            .send_context();
        self.sent_by_a(&ctx)
            .into_iter()
            .filter_map(|m| match m {
                Message::Update(u) => Some(u),
                _ => None,
            })
            .collect()
    }
}
