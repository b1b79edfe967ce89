//! BFD control packets (RFC 5880 4.1), without authentication:
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! |Vers |  Diag   |Sta|P|F|C|A|D|M|  Detect Mult  |    Length     |
//! |                       My Discriminator                        |
//! |                      Your Discriminator                       |
//! |                    Desired Min TX Interval                    |
//! |                   Required Min RX Interval                    |
//! |                 Required Min Echo RX Interval                 |
//! ```
//! Intervals are in microseconds. leafvip configures no authentication,
//! so a packet with the A bit is discarded (RFC 5880 6.8.6).
use std::fmt;

/// The mandatory part's length; leafvip sends nothing else.
pub const LEN: usize = 24;

/// The session states (RFC 5880 4.1, "Sta").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum State {
    AdminDown = 0,
    Down = 1,
    Init = 2,
    Up = 3,
}

impl State {
    fn from_bits(b: u8) -> State {
        match b & 3 {
            0 => State::AdminDown,
            1 => State::Down,
            2 => State::Init,
            _ => State::Up,
        }
    }
}

/// Why the sender's session last left Up, or is not up (RFC 5880 4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Diag {
    None,
    ControlDetectionTimeExpired,
    EchoFunctionFailed,
    NeighborSignaledSessionDown,
    ForwardingPlaneReset,
    PathDown,
    ConcatenatedPathDown,
    AdministrativelyDown,
    ReverseConcatenatedPathDown,
    /// 9-31, reserved: kept as received.
    Reserved(u8),
}

impl Diag {
    pub fn code(self) -> u8 {
        match self {
            Diag::None => 0,
            Diag::ControlDetectionTimeExpired => 1,
            Diag::EchoFunctionFailed => 2,
            Diag::NeighborSignaledSessionDown => 3,
            Diag::ForwardingPlaneReset => 4,
            Diag::PathDown => 5,
            Diag::ConcatenatedPathDown => 6,
            Diag::AdministrativelyDown => 7,
            Diag::ReverseConcatenatedPathDown => 8,
            Diag::Reserved(c) => c & 31,
        }
    }

    pub fn from_code(c: u8) -> Diag {
        match c & 31 {
            0 => Diag::None,
            1 => Diag::ControlDetectionTimeExpired,
            2 => Diag::EchoFunctionFailed,
            3 => Diag::NeighborSignaledSessionDown,
            4 => Diag::ForwardingPlaneReset,
            5 => Diag::PathDown,
            6 => Diag::ConcatenatedPathDown,
            7 => Diag::AdministrativelyDown,
            8 => Diag::ReverseConcatenatedPathDown,
            c => Diag::Reserved(c),
        }
    }
}

/// One control packet, as the session reads and writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Packet {
    pub diag: Diag,
    pub state: State,
    /// Poll: the sender asks for a Final (a parameter change).
    pub poll: bool,
    /// Final: the answer to a Poll.
    pub fin: bool,
    /// Control Plane Independent.
    pub cpi: bool,
    pub demand: bool,
    pub detect_mult: u8,
    pub my_disc: u32,
    pub your_disc: u32,
    /// Microseconds.
    pub desired_min_tx: u32,
    pub required_min_rx: u32,
    pub required_min_echo_rx: u32,
}

/// Why a packet is discarded (RFC 5880 6.8.6); BFD answers nothing, so
/// each is a counter and a log line, never a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// Fewer than 24 bytes, or fewer than the Length field says.
    Short {
        got: usize,
    },
    Version(u8),
    /// The Length field is under 24 (26 with authentication).
    Length(u8),
    /// Authentication present, and leafvip configures none.
    AuthUnexpected,
    /// Detect Mult 0.
    DetectMult,
    /// The Multipoint bit, reserved for future point-to-multipoint use.
    Multipoint,
    /// My Discriminator 0.
    MyDiscriminator,
    /// Your Discriminator 0 in a packet whose state is Init or Up.
    YourDiscriminator(State),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Short { got } => write!(f, "packet too short ({got} bytes)"),
            DecodeError::Version(v) => write!(f, "version {v}, not 1"),
            DecodeError::Length(l) => write!(f, "length field {l} is under the minimum"),
            DecodeError::AuthUnexpected => f.write_str("authentication present, none configured"),
            DecodeError::DetectMult => f.write_str("detect multiplier 0"),
            DecodeError::Multipoint => f.write_str("multipoint bit set"),
            DecodeError::MyDiscriminator => f.write_str("my discriminator 0"),
            DecodeError::YourDiscriminator(s) => {
                write!(f, "your discriminator 0 in state {s:?}")
            }
        }
    }
}

/// A cursor over received bytes: reads return None past the end, so no
/// read can panic.
struct Reader<'a> {
    buf: &'a [u8],
}

impl Reader<'_> {
    fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.buf.split_first()?;
        self.buf = rest;
        Some(b)
    }

    fn u32(&mut self) -> Option<u32> {
        let (b, rest) = self.buf.split_first_chunk::<4>()?;
        self.buf = rest;
        Some(u32::from_be_bytes(*b))
    }
}

impl Packet {
    /// Decodes one packet, with the checks of RFC 5880 6.8.6 that need
    /// no session (the rest, such as an unknown Your Discriminator, are
    /// the session's).
    pub fn decode(b: &[u8]) -> Result<Packet, DecodeError> {
        let short = DecodeError::Short { got: b.len() };
        let mut r = Reader { buf: b };
        let first = r.u8().ok_or(short)?;
        let flags = r.u8().ok_or(short)?;
        let detect_mult = r.u8().ok_or(short)?;
        let length = r.u8().ok_or(short)?;
        if first >> 5 != 1 {
            return Err(DecodeError::Version(first >> 5));
        }
        let auth = flags & 0x04 != 0;
        if usize::from(length) < LEN + if auth { 2 } else { 0 } {
            return Err(DecodeError::Length(length));
        }
        if b.len() < usize::from(length) {
            return Err(short);
        }
        if auth {
            return Err(DecodeError::AuthUnexpected);
        }
        if detect_mult == 0 {
            return Err(DecodeError::DetectMult);
        }
        if flags & 0x01 != 0 {
            return Err(DecodeError::Multipoint);
        }
        let p = Packet {
            diag: Diag::from_code(first),
            state: State::from_bits(flags >> 6),
            poll: flags & 0x20 != 0,
            fin: flags & 0x10 != 0,
            cpi: flags & 0x08 != 0,
            demand: flags & 0x02 != 0,
            detect_mult,
            my_disc: r.u32().ok_or(short)?,
            your_disc: r.u32().ok_or(short)?,
            desired_min_tx: r.u32().ok_or(short)?,
            required_min_rx: r.u32().ok_or(short)?,
            required_min_echo_rx: r.u32().ok_or(short)?,
        };
        if p.my_disc == 0 {
            return Err(DecodeError::MyDiscriminator);
        }
        if p.your_disc == 0 && matches!(p.state, State::Init | State::Up) {
            return Err(DecodeError::YourDiscriminator(p.state));
        }
        Ok(p)
    }

    /// The packet's 24 bytes.
    pub fn encode(&self) -> [u8; LEN] {
        let mut b = [0u8; LEN];
        b[0] = (1 << 5) | self.diag.code();
        b[1] = ((self.state as u8) << 6)
            | (u8::from(self.poll) << 5)
            | (u8::from(self.fin) << 4)
            | (u8::from(self.cpi) << 3)
            | (u8::from(self.demand) << 1);
        b[2] = self.detect_mult;
        b[3] = LEN as u8;
        for (i, v) in [
            self.my_disc,
            self.your_disc,
            self.desired_min_tx,
            self.required_min_rx,
            self.required_min_echo_rx,
        ]
        .iter()
        .enumerate()
        {
            b[4 + 4 * i..8 + 4 * i].copy_from_slice(&v.to_be_bytes());
        }
        b
    }
}
