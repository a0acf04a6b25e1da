//! The card side of the APDU transport (ISO 7816-4 5.1-5.3): command chaining is reassembled,
//! responses longer than Le (or than 256 bytes in short mode) are handed out with `61xx` and
//! GET RESPONSE, and extended-length APDUs are accepted only when the card declares them, so
//! that one simulated card can behave like a modern token or like an older short-only card.
//!
//! The application behind it sees whole logical commands only.

use zeroize::Zeroizing;

use card_edges::iso7816::apdu::{CLA_CHAINING, CommandView, EXTENDED_MAX_LE, Response, SHORT_MAX_LE, ins};
use card_edges::iso7816::status::StatusWord;

/// Largest command a chain may assemble: far above any PIV object (YubiKey: 3 KiB) while
/// bounding what a hostile host can make the card buffer.
pub(crate) const MAX_CHAINED_DATA: usize = 16 * 1024;

/// What the link layer needs from the application behind it.
pub(crate) trait Application {
    /// Processes one complete command (chains already reassembled).
    fn process(&mut self, cmd: &CommandView<'_>) -> Response;

    /// An APDU arrived that will not reach [`Application::process`] as part of the next
    /// command (a malformed command, a chain abandoned for another command): "immediately
    /// preceding" rules such as PIN-always must treat it as an intervening command. The parts
    /// of a chain that completes, and GET RESPONSEs, are not interruptions.
    fn interrupted(&mut self);
}

/// A chain being received: the header it started with and the data so far.
struct Chain {
    header: (u8, u8, u8),
    data: Zeroizing<Vec<u8>>,
}

/// A response waiting for GET RESPONSE.
struct Pending {
    data: Zeroizing<Vec<u8>>,
    offset: usize,
    sw: StatusWord,
}

/// The link state of one card: cleared by a reset.
pub(crate) struct Link {
    extended: bool,
    hold_unrequested: bool,
    chain: Option<Chain>,
    pending: Option<Pending>,
}

impl Link {
    /// A link that accepts extended-length APDUs when `extended` is true.
    pub(crate) fn new(extended: bool) -> Self {
        Self { extended, hold_unrequested: false, chain: None, pending: None }
    }

    /// Holds back the data of a response to a command that carried no Le (case 3): the card
    /// answers only `61xx` and the host fetches the data with GET RESPONSE, as Java Card
    /// applets do when they produce data nobody asked for (ISO 7816-3 12.2.3, ISO 7816-4 5.3.4).
    /// Off by default: the data is then sent at once, up to 256 bytes.
    pub(crate) fn set_hold_unrequested(&mut self, on: bool) {
        self.hold_unrequested = on;
    }

    /// Whether extended-length APDUs are accepted.
    pub(crate) fn extended(&self) -> bool {
        self.extended
    }

    /// Switches extended-length support (the ATR changes with it).
    pub(crate) fn set_extended(&mut self, on: bool) {
        self.extended = on;
    }

    /// Forgets any partial chain and undelivered response.
    pub(crate) fn reset(&mut self) {
        self.chain = None;
        self.pending = None;
    }

    /// Handles one APDU as received, returning the response APDU.
    pub(crate) fn process(&mut self, raw: &[u8], app: &mut impl Application) -> Vec<u8> {
        let Ok(cmd) = CommandView::parse(raw) else {
            self.reset();
            app.interrupted();
            return Response::status(StatusWord::WRONG_LENGTH).to_bytes();
        };
        if cmd.extended && !self.extended {
            self.reset();
            app.interrupted();
            return Response::status(StatusWord::WRONG_LENGTH).to_bytes();
        }
        if cmd.cla & !CLA_CHAINING != 0 {
            self.reset();
            app.interrupted();
            return Response::status(StatusWord::CLA_NOT_SUPPORTED).to_bytes();
        }
        if cmd.ins == ins::GET_RESPONSE && !cmd.is_chained() && self.pending.is_some() {
            if cmd.p1 != 0 || cmd.p2 != 0 {
                self.pending = None;
                return Response::status(StatusWord::INCORRECT_P1P2).to_bytes();
            }
            let le = cmd.le.unwrap_or(SHORT_MAX_LE);
            return self.next_part(le);
        }
        // Anything else abandons an undelivered response, as real tokens do.
        self.pending = None;
        if cmd.is_chained() {
            return self.chain_part(&cmd, app);
        }
        let rsp = match self.chain.take() {
            Some(chain) if chain.header == (cmd.ins, cmd.p1, cmd.p2) => {
                let mut data = chain.data;
                data.extend_from_slice(cmd.data);
                let whole = CommandView { data: &data, ..cmd };
                app.process(&whole)
            }
            Some(_) => {
                // The abandoned chain's parts came in between.
                app.interrupted();
                app.process(&cmd)
            }
            None => app.process(&cmd),
        };
        let max = if self.extended { EXTENDED_MAX_LE } else { SHORT_MAX_LE };
        let le = cmd.le.unwrap_or(SHORT_MAX_LE).min(max);
        let hold = self.hold_unrequested && cmd.le.is_none() && !rsp.data.is_empty() && rsp.sw.is_success();
        self.pending = Some(Pending { data: Zeroizing::new(rsp.data), offset: 0, sw: rsp.sw });
        self.next_part(if hold { 0 } else { le })
    }

    fn chain_part(&mut self, cmd: &CommandView<'_>, app: &mut impl Application) -> Vec<u8> {
        let header = (cmd.ins, cmd.p1, cmd.p2);
        let mut chain = match self.chain.take() {
            Some(chain) if chain.header == header => chain,
            Some(_) => {
                app.interrupted();
                return Response::status(StatusWord::LAST_COMMAND_EXPECTED).to_bytes();
            }
            None => Chain { header, data: Zeroizing::new(Vec::new()) },
        };
        if chain.data.len() + cmd.data.len() > MAX_CHAINED_DATA {
            app.interrupted();
            return Response::status(StatusWord::WRONG_LENGTH).to_bytes();
        }
        chain.data.extend_from_slice(cmd.data);
        self.chain = Some(chain);
        Response::status(StatusWord::SUCCESS).to_bytes()
    }

    /// Hands out up to `le` bytes of the pending response, with `61xx` while more remain.
    fn next_part(&mut self, le: usize) -> Vec<u8> {
        let Some(pending) = self.pending.as_mut() else {
            return Response::status(StatusWord::CONDITIONS_NOT_SATISFIED).to_bytes();
        };
        let rest = pending.data.get(pending.offset..).unwrap_or_default();
        let n = rest.len().min(le);
        let mut out = Vec::with_capacity(n + 2);
        out.extend_from_slice(rest.get(..n).unwrap_or_default());
        pending.offset += n;
        let remaining = pending.data.len().saturating_sub(pending.offset);
        if remaining == 0 {
            out.extend_from_slice(&pending.sw.to_bytes());
            self.pending = None;
        } else {
            // 61 00 means "256 or more".
            let sw2 = u8::try_from(remaining.min(SHORT_MAX_LE) % SHORT_MAX_LE).unwrap_or(0);
            out.extend_from_slice(&[0x61, sw2]);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hex_literal::hex;

    /// Echoes the logical command's data, repeated `times` times; counts interruptions.
    #[derive(Default)]
    struct Echo {
        seen: Vec<Vec<u8>>,
        interruptions: usize,
        times: usize,
    }

    impl Application for Echo {
        fn process(&mut self, cmd: &CommandView<'_>) -> Response {
            self.seen.push(cmd.data.to_vec());
            Response::ok(cmd.data.repeat(self.times.max(1)))
        }
        fn interrupted(&mut self) {
            self.interruptions += 1;
        }
    }

    fn apdu(header: [u8; 4], data: &[u8], le: Option<u8>) -> Vec<u8> {
        let mut v = header.to_vec();
        if !data.is_empty() {
            v.push(u8::try_from(data.len()).unwrap());
            v.extend_from_slice(data);
        }
        v.extend(le);
        v
    }

    #[test]
    fn reassembles_a_chain() {
        let mut link = Link::new(false);
        let mut app = Echo::default();
        assert_eq!(link.process(&apdu([0x10, 0xDB, 0x3F, 0xFF], &[1; 255], None), &mut app), hex!("9000"));
        assert_eq!(link.process(&apdu([0x10, 0xDB, 0x3F, 0xFF], &[2; 255], None), &mut app), hex!("9000"));
        assert_eq!(app.interruptions, 0, "the parts of a chain that completes are no interruption");
        let rsp = link.process(&apdu([0x00, 0xDB, 0x3F, 0xFF], &[3; 10], Some(0)), &mut app);
        assert_eq!(app.seen.len(), 1);
        assert_eq!(app.seen[0].len(), 520);
        // 520 bytes back: 256 now, then 61 00 (256 more), then 8.
        assert_eq!(rsp.len(), 258);
        assert_eq!(&rsp[256..], &hex!("6100"));
        let rsp = link.process(&hex!("00C0000000"), &mut app);
        assert_eq!(&rsp[256..], &hex!("6108"));
        let rsp = link.process(&hex!("00C0000008"), &mut app);
        assert_eq!(rsp, [vec![3; 8], hex!("9000").to_vec()].concat());
        // Nothing pending any more: GET RESPONSE reaches the application.
        link.process(&hex!("00C0000000"), &mut app);
        assert_eq!(app.seen.len(), 2);
    }

    #[test]
    fn a_chain_with_another_header_is_refused() {
        let mut link = Link::new(false);
        let mut app = Echo::default();
        link.process(&apdu([0x10, 0xDB, 0x3F, 0xFF], &[1; 10], None), &mut app);
        assert_eq!(link.process(&apdu([0x10, 0x87, 0x07, 0x9A], &[1; 10], None), &mut app), hex!("6883"));
        assert_eq!(app.interruptions, 1);
        // A plain command after an abandoned chain is processed on its own, after an
        // interruption for the parts in between.
        link.process(&apdu([0x10, 0xDB, 0x3F, 0xFF], &[1; 10], None), &mut app);
        link.process(&apdu([0x00, 0x87, 0x07, 0x9A], &[4; 3], Some(0)), &mut app);
        assert_eq!(app.seen, vec![vec![4; 3]]);
        assert_eq!(app.interruptions, 2);
    }

    #[test]
    fn short_le_is_honoured_and_other_commands_drop_the_rest() {
        let mut link = Link::new(false);
        let mut app = Echo { times: 10, ..Echo::default() };
        let rsp = link.process(&apdu([0x00, 0xCB, 0x3F, 0xFF], &[7; 20], Some(8)), &mut app);
        assert_eq!(rsp, [vec![7; 8], hex!("61C0").to_vec()].concat());
        // An unrelated command abandons the response instead of failing with 68 83.
        let rsp = link.process(&apdu([0x00, 0xCB, 0x3F, 0xFF], &[9; 2], Some(0)), &mut app);
        assert_eq!(rsp, [vec![9; 20], hex!("9000").to_vec()].concat());
    }

    #[test]
    fn extended_only_when_enabled() {
        let mut app = Echo { times: 2, ..Echo::default() };
        let mut cmd = hex!("00DB3FFF 000190").to_vec();
        cmd.extend_from_slice(&[5; 400]);
        cmd.extend_from_slice(&hex!("0000"));
        let mut off = Link::new(false);
        assert_eq!(off.process(&cmd, &mut app), hex!("6700"));
        assert!(app.seen.is_empty());
        let mut on = Link::new(true);
        let rsp = on.process(&cmd, &mut app);
        assert_eq!(rsp.len(), 802, "800 bytes in one extended response");
        assert_eq!(&rsp[800..], &hex!("9000"));
        // Short commands still get at most 256 bytes at a time.
        let rsp = on.process(&apdu([0x00, 0xDB, 0x3F, 0xFF], &[6; 200], Some(0)), &mut app);
        assert_eq!(&rsp[256..], &hex!("6190"));
    }

    #[test]
    fn bad_cla_and_malformed_apdus() {
        let mut link = Link::new(false);
        let mut app = Echo::default();
        assert_eq!(link.process(&hex!("80CA9F7F00"), &mut app), hex!("6E00"));
        assert_eq!(link.process(&hex!("00CB3F"), &mut app), hex!("6700"));
        assert_eq!(link.process(&hex!("00CB3FFF05AA"), &mut app), hex!("6700"));
        assert_eq!(app.interruptions, 3);
        assert!(app.seen.is_empty());
    }

    #[test]
    fn unrequested_data_is_held_when_asked() {
        let mut app = Echo::default();
        let mut link = Link::new(false);
        let cmd = apdu([0x00, 0x47, 0x00, 0x00], &[8; 10], None);
        assert_eq!(link.process(&cmd, &mut app), [vec![8; 10], hex!("9000").to_vec()].concat());
        link.set_hold_unrequested(true);
        assert_eq!(link.process(&cmd, &mut app), hex!("610A"));
        assert_eq!(link.process(&hex!("00C000000A"), &mut app), [vec![8; 10], hex!("9000").to_vec()].concat());
        // With Le the data comes at once.
        let cmd = apdu([0x00, 0x47, 0x00, 0x00], &[8; 10], Some(0));
        assert_eq!(link.process(&cmd, &mut app), [vec![8; 10], hex!("9000").to_vec()].concat());
    }

    #[test]
    fn chains_are_bounded() {
        let mut link = Link::new(false);
        let mut app = Echo::default();
        for _ in 0..MAX_CHAINED_DATA / 255 {
            assert_eq!(link.process(&apdu([0x10, 0xDB, 0x3F, 0xFF], &[1; 255], None), &mut app), hex!("9000"));
        }
        assert_eq!(link.process(&apdu([0x10, 0xDB, 0x3F, 0xFF], &[1; 255], None), &mut app), hex!("6700"));
    }
}
