//! What the simulated cards count and record about the exchanges they see, for tests that
//! measure how many APDUs and bytes a host spends and what it sent.

/// APDUs and bytes the card processed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SimCounters {
    /// Command APDUs received (GET RESPONSE and chained parts each count).
    pub apdus: u64,
    /// Command bytes received.
    pub bytes_in: u64,
    /// Response bytes sent, status words included.
    pub bytes_out: u64,
}

impl SimCounters {
    /// The exchanges between `earlier` and `self`.
    pub fn since(self, earlier: Self) -> Self {
        Self {
            apdus: self.apdus.saturating_sub(earlier.apdus),
            bytes_in: self.bytes_in.saturating_sub(earlier.bytes_in),
            bytes_out: self.bytes_out.saturating_sub(earlier.bytes_out),
        }
    }

    /// Bytes in both directions.
    pub fn bytes(self) -> u64 {
        self.bytes_in + self.bytes_out
    }
}

/// One exchange as the card saw it, in hex. Secrets (PINs, keys, authentication
/// cryptograms, deciphered data) are replaced by their length; each card documents which.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceEntry {
    /// The command APDU.
    pub command: String,
    /// The response APDU.
    pub response: String,
}
