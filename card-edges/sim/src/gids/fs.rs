//! The GIDS file system: one application DF (FID `3FFF`) holding BER-TLV EFs (the data object
//! files `A0xx`) and key files (`B0xx`), each with its FCP, compact security attribute and
//! life cycle state; the current EF; and the permission check every command makes (GIDS v2.0
//! "file system", ISO 7816-4 7.1 and 5.3.3).

use std::collections::BTreeMap;

use card_edges::iso7816::status::StatusWord;
use card_edges::iso7816::tlv::{self, Tag};

use super::access::{Authority, CompactSa, LifeCycle, op, satisfied};
use super::data::DataObjects;
use super::keys::KeyFile;
use super::sw;

/// The application DF's FCP: file descriptor `38` (DF, not shareable) and compact SA `03 30 30`
/// (create and delete EFs: user PIN or administrator), as GidsApplet answers SELECT with P2 `04`.
pub(super) const APPLICATION_FCP: [u8; 10] = [0x62, 0x08, 0x82, 0x01, 0x38, 0x8C, 0x03, 0x03, 0x30, 0x30];
/// The application's FID, and the master file's, which on a GIDS card is the same DF.
pub(super) const APPLICATION_FID: u16 = 0x3FFF;
const MASTER_FILE_FID: u16 = 0x3F00;
/// Most EFs the application holds (GidsApplet's `DedicatedFile.CHILDREN_COUNT_MAX`).
pub(super) const MAX_FILES: usize = 30;

/// File descriptor bytes (ISO 7816-4 table 14, GIDS v2.0).
const FD_BER_TLV: u8 = 0x39;
const FD_KEY: u8 = 0x18;

/// What an EF holds.
pub(super) enum Content {
    /// A BER-TLV EF: data objects.
    Data(DataObjects),
    /// A key file: its allowed uses and, once generated or imported, its key.
    Key(KeyFile),
}

/// An elementary file.
pub(super) struct Ef {
    /// The FCP as CREATE FILE received it (returned by SELECT with P2 `04`).
    pub(super) fcp: Vec<u8>,
    sa: Option<CompactSa>,
    pub(super) state: LifeCycle,
    pub(super) content: Content,
}

impl Ef {
    /// Decodes CREATE FILE's data: an FCP (`62`, or an FCI `6F`) with the file descriptor
    /// (`82`, first byte `39` or `18`), the FID (`83`, two bytes), optionally a compact SA
    /// (`8C`), and for key files the CRT list (`A5`). The new file is in its creation state.
    ///
    /// # Errors
    /// `69 84` (GidsApplet's "data invalid") for anything else.
    pub(super) fn from_fcp(fcp: &[u8]) -> Result<(u16, Self), StatusWord> {
        let invalid = sw::DATA_INVALID;
        let outer = tlv::read_single(fcp).map_err(|_| invalid)?;
        if outer.tag != Tag(0x62) && outer.tag != Tag(0x6F) {
            return Err(invalid);
        }
        let (mut descriptor, mut fid, mut sa, mut crt) = (None, None, None, None);
        for item in tlv::Reader::new(outer.value) {
            let item = item.map_err(|_| invalid)?;
            match item.tag.0 {
                0x82 if (1..=6).contains(&item.value.len()) => descriptor = item.value.first().copied(),
                0x83 => fid = Some(<[u8; 2]>::try_from(item.value).map_err(|_| invalid)?),
                0x8C => sa = Some(CompactSa::parse(item.value).ok_or(invalid)?),
                0xA5 => crt = Some(item.value),
                0x82 => return Err(invalid),
                _ => {}
            }
        }
        let fid = u16::from_be_bytes(fid.ok_or(invalid)?);
        if matches!(fid, 0x0000 | 0xFFFF | APPLICATION_FID | MASTER_FILE_FID) {
            return Err(invalid);
        }
        let content = match (descriptor, crt) {
            (Some(FD_BER_TLV), _) => Content::Data(DataObjects::default()),
            (Some(FD_KEY), Some(crt)) => Content::Key(KeyFile::from_crt(crt).ok_or(invalid)?),
            _ => return Err(invalid),
        };
        Ok((fid, Self { fcp: fcp.to_vec(), sa, state: LifeCycle::Creation, content }))
    }

    /// The condition byte of `operation`, `None` if unrestricted.
    fn condition(&self, operation: u8) -> Option<u8> {
        self.sa.as_ref().and_then(|sa| sa.condition(operation))
    }

    /// The data objects, if this is a BER-TLV EF.
    pub(super) fn data(&self) -> Option<&DataObjects> {
        match &self.content {
            Content::Data(d) => Some(d),
            Content::Key(_) => None,
        }
    }

    /// The key file, if this is one.
    pub(super) fn key(&self) -> Option<&KeyFile> {
        match &self.content {
            Content::Key(k) => Some(k),
            Content::Data(_) => None,
        }
    }
}

/// The application DF and its EFs.
pub(super) struct FileSystem {
    /// The application's life cycle state.
    pub(super) state: LifeCycle,
    pub(super) files: BTreeMap<u16, Ef>,
    /// The current EF (ISO 7816-4 7.1.1), `None` when the application DF itself is current.
    pub(super) current: Option<u16>,
}

impl FileSystem {
    /// A factory-new application: creation state, no files.
    pub(super) fn new() -> Self {
        Self { state: LifeCycle::Creation, files: BTreeMap::new(), current: None }
    }

    /// Checks that `operation` may be performed on the application DF now.
    ///
    /// In the creation state everything is allowed (GidsApplet's `File.CheckPermission`);
    /// once operational the DF's compact SA applies. TERMINATE, which that SA leaves
    /// unrestricted, needs the administrator here: a card that anyone could brick would be
    /// laxer than any issuer configures.
    ///
    /// # Errors
    /// `62 85` once terminated, `69 82` when the condition is not met.
    pub(super) fn check_application(&self, operation: u8, who: Authority) -> Result<(), StatusWord> {
        match self.state {
            LifeCycle::Terminated => Err(sw::TERMINATED),
            LifeCycle::Creation => Ok(()),
            LifeCycle::Operational => {
                let sa = CompactSa::parse(APPLICATION_FCP.get(7..).unwrap_or_default());
                let condition = match (sa.and_then(|s| s.condition(operation)), operation) {
                    (Some(sc), _) => sc,
                    (None, op::TERMINATE) => 0xA0,
                    (None, _) => return Ok(()),
                };
                allow(condition, who)
            }
        }
    }

    /// Checks that `operation` may be performed on EF `fid`: a file in its creation state
    /// allows only ACTIVATE (`69 85` otherwise), then the file's compact SA applies.
    ///
    /// # Errors
    /// `6A 82` for a missing file, `69 85` and `69 82` as above.
    pub(super) fn check_file(&self, fid: u16, operation: u8, who: Authority) -> Result<(), StatusWord> {
        let ef = self.files.get(&fid).ok_or(StatusWord::FILE_NOT_FOUND)?;
        if ef.state == LifeCycle::Creation && operation != op::ACTIVATE {
            return Err(StatusWord::CONDITIONS_NOT_SATISFIED);
        }
        match ef.condition(operation) {
            Some(sc) => allow(sc, who),
            None => Ok(()),
        }
    }

    /// The key file of key reference `kref` (FID `B0 || kref`).
    pub(super) fn key_fid(kref: u8) -> u16 {
        u16::from_be_bytes([0xB0, kref])
    }

    /// The key file for `kref`, if it exists and is a key file.
    pub(super) fn key_file(&self, kref: u8) -> Option<&KeyFile> {
        self.files.get(&Self::key_fid(kref)).and_then(Ef::key)
    }

    /// The key file for `kref`, mutable.
    pub(super) fn key_file_mut(&mut self, kref: u8) -> Option<&mut KeyFile> {
        match self.files.get_mut(&Self::key_fid(kref)).map(|ef| &mut ef.content) {
            Some(Content::Key(k)) => Some(k),
            _ => None,
        }
    }

    /// The data objects of BER-TLV EF `fid`.
    pub(super) fn data(&self, fid: u16) -> Option<&DataObjects> {
        self.files.get(&fid).and_then(Ef::data)
    }

    /// The data objects of BER-TLV EF `fid`, mutable.
    pub(super) fn data_mut(&mut self, fid: u16) -> Option<&mut DataObjects> {
        match self.files.get_mut(&fid).map(|ef| &mut ef.content) {
            Some(Content::Data(d)) => Some(d),
            _ => None,
        }
    }

    /// Bytes held in data objects over all BER-TLV EFs (tags and lengths included), what the
    /// card's capacity limits.
    pub(super) fn data_bytes(&self) -> usize {
        self.files.values().filter_map(Ef::data).map(DataObjects::encoded_len).sum()
    }

    /// Whether `fid` names the application DF.
    pub(super) fn is_application(fid: u16) -> bool {
        fid == APPLICATION_FID || fid == MASTER_FILE_FID
    }
}

fn allow(sc: u8, who: Authority) -> Result<(), StatusWord> {
    if satisfied(sc, who) { Ok(()) } else { Err(StatusWord::SECURITY_STATUS_NOT_SATISFIED) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hex_literal::hex;

    #[test]
    fn the_do_file_and_key_file_templates_parse() {
        let (fid, ef) = Ef::from_fcp(&hex!("620C8201398302A0108C03033000")).unwrap();
        assert_eq!(fid, 0xA010);
        assert!(ef.data().is_some());
        assert_eq!(ef.state, LifeCycle::Creation);
        let (fid, ef) = Ef::from_fcp(&hex!("621A8201188302B0808C04870020FFA50BA4098001028301809501C0")).unwrap();
        assert_eq!(fid, 0xB080);
        assert!(ef.key().is_some());
        for bad in [
            &hex!("620C8201398302A0108C030330")[..],      // truncated
            &hex!("630A8201398302A0108C0103")[..],        // not an FCP
            &hex!("62088201398C03033000")[..],            // no FID
            &hex!("620C8201388302A0208C03033000")[..],    // a DF
            &hex!("620C8201188302B0818C03033000")[..],    // key file without CRT
            &hex!("620C8201398302A0108C03033030 00")[..], // trailing byte
            &hex!("620C8201398302 3FFF 8C03033000")[..],  // the application's FID
        ] {
            assert_eq!(Ef::from_fcp(bad).err(), Some(sw::DATA_INVALID), "{}", hex::encode(bad));
        }
    }

    #[test]
    fn files_in_creation_state_allow_only_activate() {
        let mut fs = FileSystem::new();
        let (fid, ef) = Ef::from_fcp(&hex!("620C8201398302A0148C03032020")).unwrap();
        fs.files.insert(fid, ef);
        let creation = Authority { creation: true, ..Authority::default() };
        assert_eq!(fs.check_file(fid, op::GET_DATA, creation), Err(StatusWord::CONDITIONS_NOT_SATISFIED));
        assert_eq!(fs.check_file(fid, op::ACTIVATE, creation), Ok(()));
        fs.files.get_mut(&fid).unwrap().state = LifeCycle::Operational;
        assert_eq!(fs.check_file(fid, op::GET_DATA, creation), Ok(()));
        assert_eq!(
            fs.check_file(fid, op::GET_DATA, Authority::default()),
            Err(StatusWord::SECURITY_STATUS_NOT_SATISFIED)
        );
        assert_eq!(fs.check_file(0xA099, op::GET_DATA, creation), Err(StatusWord::FILE_NOT_FOUND));
    }

    #[test]
    fn application_conditions() {
        let mut fs = FileSystem::new();
        let none = Authority::default();
        assert_eq!(fs.check_application(op::CREATE_EF, none), Ok(()), "creation state: anything goes");
        fs.state = LifeCycle::Operational;
        assert_eq!(fs.check_application(op::CREATE_EF, none), Err(StatusWord::SECURITY_STATUS_NOT_SATISFIED));
        assert_eq!(fs.check_application(op::CREATE_EF, Authority { pin: true, ..none }), Ok(()));
        assert_eq!(
            fs.check_application(op::TERMINATE, Authority { pin: true, ..none }),
            Err(StatusWord::SECURITY_STATUS_NOT_SATISFIED)
        );
        assert_eq!(fs.check_application(op::TERMINATE, Authority { admin: true, ..none }), Ok(()));
        fs.state = LifeCycle::Terminated;
        assert_eq!(fs.check_application(op::CREATE_EF, Authority { admin: true, ..none }), Err(sw::TERMINATED));
    }
}
