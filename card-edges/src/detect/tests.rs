//! One test per branch of each flow: scripted cards pin the exact APDUs and the outcome.

use std::sync::{Arc, Mutex};

use hex_literal::hex;

use super::*;
use crate::iso7816::Session;
use crate::transport::memory::{MemoryCard, ScriptedCard};

const SELECT_PNP: &[u8] = &hex!("00A404000B A000000397434944 5F0100");
const GET_CARD_ID: &[u8] = &hex!("00CA7F6800");
const SELECT_MF: &[u8] = &hex!("00A4000C023F00");
const SELECT_EF_ATR: &[u8] = &hex!("00A4020C022F01");
const READ_BINARY: &[u8] = &hex!("00B0000000");
const SELECT_PIV: &[u8] = &hex!("00A4040009A00000030800001000");
const SELECT_GIDS: &[u8] = &hex!("00A4040009A0000003974254465900");
const NOT_FOUND: &[u8] = &hex!("6A82");
const OK: &[u8] = &hex!("9000");
/// An ATR with historical bytes `80 73 C0 21 C0 57 59 75 62 69 4B 65 79` (YubiKey 5, pcsc-tools list).
const ATR_HIST: &[u8] = &hex!("3BFD1300008131FE158073C021C057597562694B657940");
const ATR_NO_HIST: &[u8] = &hex!("3B8080 0101");

type Mismatches = Arc<Mutex<Vec<String>>>;

fn session(atr: &[u8], script: &[(&[u8], &[u8])]) -> (Session<MemoryCard>, Mismatches) {
    let card = ScriptedCard::new(atr, script);
    let m = card.mismatches.clone();
    (Session::new(MemoryCard::new(card)), m)
}

fn sent(evidence: &[Step]) -> Vec<Vec<u8>> {
    evidence.iter().filter_map(|s| s.command.clone()).collect()
}

fn assert_clean(m: &Mismatches) {
    assert!(m.lock().unwrap().is_empty(), "{:?}", m.lock().unwrap());
}

fn card_id_response(guids: &[[u8; 16]]) -> Vec<u8> {
    let mut r = card_id::encode("MSFT", guids);
    r.extend_from_slice(OK);
    r
}

#[test]
fn pnp_card_id() {
    let rsp = card_id_response(&[[0xA1; 16], [0xB2; 16]]);
    let (mut s, m) = session(ATR_HIST, &[(SELECT_PNP, OK), (GET_CARD_ID, &rsp)]);
    let out = plug_and_play(&mut s).unwrap();
    assert_clean(&m);
    assert_eq!(sent(&out.evidence), vec![SELECT_PNP.to_vec(), GET_CARD_ID.to_vec()]);
    match out.identity {
        Some(PnpIdentity::CardId { device_id, card_id }) => {
            assert_eq!(device_id, [0xA1; 16]);
            assert_eq!(card_id.guids.len(), 2);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn pnp_get_data_is_sent_even_when_select_fails() {
    let rsp = card_id_response(&[[0x5A; 16]]);
    let (mut s, m) = session(ATR_HIST, &[(SELECT_PNP, NOT_FOUND), (GET_CARD_ID, &rsp)]);
    let out = plug_and_play(&mut s).unwrap();
    assert_clean(&m);
    assert!(matches!(out.identity, Some(PnpIdentity::CardId { device_id, .. }) if device_id == [0x5A; 16]));
}

#[test]
fn pnp_ef_atr() {
    let (mut s, m) = session(
        ATR_HIST,
        &[
            (SELECT_PNP, NOT_FOUND),
            (GET_CARD_ID, &hex!("6A88")),
            (SELECT_MF, OK),
            (SELECT_EF_ATR, OK),
            (READ_BINARY, &hex!("4703 940000 9000")),
        ],
    );
    let out = plug_and_play(&mut s).unwrap();
    assert_clean(&m);
    assert_eq!(out.identity, Some(PnpIdentity::EfAtr(hex!("4703940000").to_vec())));
    assert_eq!(out.evidence.len(), 6);
}

#[test]
fn pnp_malformed_card_id_falls_through_to_piv() {
    let mut bad = card_id::encode("ACME", &[[1; 16]]);
    bad.extend_from_slice(OK);
    let (mut s, m) =
        session(ATR_HIST, &[(SELECT_PNP, OK), (GET_CARD_ID, &bad), (SELECT_MF, NOT_FOUND), (SELECT_PIV, OK)]);
    let out = plug_and_play(&mut s).unwrap();
    assert_clean(&m);
    let hist = hex!("8073C021C057597562694B6579").to_vec();
    assert_eq!(out.identity, Some(PnpIdentity::Piv { device_id: Some(hist.clone()) }));
    assert_eq!(out.identity.as_ref().unwrap().compatible_id(), Some("PIV"));
    assert_eq!(out.identity.unwrap().device_id(), hex::encode_upper(hist));
}

#[test]
fn pnp_piv_without_historical_bytes_uses_the_piv_id() {
    let (mut s, m) = session(
        ATR_NO_HIST,
        &[(SELECT_PNP, NOT_FOUND), (GET_CARD_ID, NOT_FOUND), (SELECT_MF, NOT_FOUND), (SELECT_PIV, OK)],
    );
    let out = plug_and_play(&mut s).unwrap();
    assert_clean(&m);
    assert_eq!(out.identity, Some(PnpIdentity::Piv { device_id: None }));
    assert_eq!(out.identity.unwrap().device_id(), "PIV");
}

#[test]
fn pnp_gids() {
    let (mut s, m) = session(
        ATR_NO_HIST,
        &[
            (SELECT_PNP, NOT_FOUND),
            (GET_CARD_ID, NOT_FOUND),
            (SELECT_MF, OK),
            (SELECT_EF_ATR, NOT_FOUND),
            (SELECT_PIV, NOT_FOUND),
            (SELECT_GIDS, &hex!("6112 4F0B A0000003974254465902 01 7303 4001C0 9000")),
        ],
    );
    let out = plug_and_play(&mut s).unwrap();
    assert_clean(&m);
    assert_eq!(out.identity, Some(PnpIdentity::Gids { device_id: None }));
    assert_eq!(sent(&out.evidence).last().unwrap(), SELECT_GIDS);
}

#[test]
fn pnp_historical_bytes_alone() {
    let (mut s, m) = session(
        ATR_HIST,
        &[
            (SELECT_PNP, NOT_FOUND),
            (GET_CARD_ID, NOT_FOUND),
            (SELECT_MF, NOT_FOUND),
            (SELECT_PIV, NOT_FOUND),
            (SELECT_GIDS, NOT_FOUND),
        ],
    );
    let out = plug_and_play(&mut s).unwrap();
    assert_clean(&m);
    assert_eq!(out.identity, Some(PnpIdentity::HistoricalBytes(hex!("8073C021C057597562694B6579").to_vec())));
}

#[test]
fn pnp_unexpected_when_nothing_identifies_the_card() {
    let (mut s, m) = session(
        ATR_NO_HIST,
        &[
            (SELECT_PNP, NOT_FOUND),
            (GET_CARD_ID, NOT_FOUND),
            (SELECT_MF, NOT_FOUND),
            (SELECT_PIV, NOT_FOUND),
            (SELECT_GIDS, NOT_FOUND),
        ],
    );
    let out = plug_and_play(&mut s).unwrap();
    assert_clean(&m);
    assert_eq!(out.identity, None);
}

#[test]
fn pnp_card_pulled_is_an_error() {
    let (mut s, _) = session(ATR_HIST, &[]);
    s.transport_mut().slot().remove();
    assert!(plug_and_play(&mut s).is_err());
}

#[test]
fn winscard_registered_atr_with_mask() {
    let entry = AtrEntry {
        name: "Acme Card".into(),
        atr: hex!("3BFD1300008131FE158073C021C057597562694B657940").to_vec(),
        mask: hex!("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00").to_vec(),
    };
    let mut atr = ATR_HIST.to_vec();
    *atr.last_mut().unwrap() = 0x99; // differs only under the mask (the TCK byte here)
    let mut registry_atr = entry.clone();
    registry_atr.atr = atr.clone();
    let (mut s, m) = session(ATR_HIST, &[]);
    let out = winscard(&mut s, &[registry_atr], &mut AtrCache::in_memory()).unwrap();
    assert_clean(&m);
    assert_eq!(out.matched, Some(WinscardMatch::Registered("Acme Card".into())));
    assert_eq!(out.card_name.as_deref(), Some("Acme Card"));
    assert!(sent(&out.evidence).is_empty(), "a registered ATR needs no APDU");
    // A different length never matches.
    assert!(!entry.matches(&ATR_HIST[..10]));
}

#[test]
fn winscard_gids_select_then_cache() {
    let dir = std::env::temp_dir().join(format!("winscard-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("atr-cache");
    let _ = std::fs::remove_file(&path);
    let (mut s, m) = session(ATR_NO_HIST, &[(SELECT_GIDS, OK)]);
    let mut cache = AtrCache::load(&path).unwrap();
    let out = winscard(&mut s, &[], &mut cache).unwrap();
    assert_clean(&m);
    assert_eq!(out.matched, Some(WinscardMatch::Selected(CardEdge::Gids)));
    assert_eq!(out.card_name.as_deref(), Some("Identity Device (Microsoft Generic Profile)"));
    // Next insertion (next process): the cache file answers, no APDU at all.
    let (mut s, m) = session(ATR_NO_HIST, &[]);
    let out = winscard(&mut s, &[], &mut AtrCache::load(&path).unwrap()).unwrap();
    assert_clean(&m);
    assert_eq!(out.matched, Some(WinscardMatch::Cached(CardEdge::Gids)));
    assert!(sent(&out.evidence).is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn winscard_piv_select_after_gids_fails() {
    let (mut s, m) = session(ATR_HIST, &[(SELECT_GIDS, NOT_FOUND), (SELECT_PIV, OK)]);
    let mut cache = AtrCache::in_memory();
    let out = winscard(&mut s, &[], &mut cache).unwrap();
    assert_clean(&m);
    assert_eq!(out.matched, Some(WinscardMatch::Selected(CardEdge::Piv)));
    assert_eq!(out.card_name.as_deref(), Some("Identity Device (NIST SP 800-73 [PIV])"));
    assert_eq!(cache.lookup(ATR_HIST), Some(CardEdge::Piv));
    let (mut s, _) = session(ATR_HIST, &[]);
    assert_eq!(winscard(&mut s, &[], &mut cache).unwrap().matched, Some(WinscardMatch::Cached(CardEdge::Piv)));
}

#[test]
fn winscard_no_match() {
    let (mut s, m) = session(ATR_HIST, &[(SELECT_GIDS, NOT_FOUND), (SELECT_PIV, NOT_FOUND)]);
    let out = winscard(&mut s, &[], &mut AtrCache::in_memory()).unwrap();
    assert_clean(&m);
    assert_eq!(out.matched, None);
    assert_eq!(out.card_name, None);
    assert_eq!(sent(&out.evidence), vec![SELECT_GIDS.to_vec(), SELECT_PIV.to_vec()]);
}

#[test]
fn class_piv() {
    let (mut s, m) = session(ATR_HIST, &[(SELECT_PIV, OK)]);
    let out = class_minidriver(&mut s, &ClassConfig::default()).unwrap();
    assert_clean(&m);
    assert_eq!(out.edge, Some(CardEdge::Piv));
    assert_eq!(sent(&out.evidence), vec![SELECT_PIV.to_vec()]);
}

#[test]
fn class_gids_selected() {
    let (mut s, m) = session(ATR_HIST, &[(SELECT_PIV, NOT_FOUND), (SELECT_GIDS, OK)]);
    let out = class_minidriver(&mut s, &ClassConfig::default()).unwrap();
    assert_clean(&m);
    assert_eq!(out.edge, Some(CardEdge::Gids));
}

#[test]
fn class_gids_when_aid_not_found() {
    let (mut s, m) = session(ATR_HIST, &[(SELECT_PIV, NOT_FOUND), (SELECT_GIDS, NOT_FOUND)]);
    let out = class_minidriver(&mut s, &ClassConfig::default()).unwrap();
    assert_clean(&m);
    assert_eq!(out.edge, Some(CardEdge::Gids));
}

#[test]
fn class_unknown_when_gids_select_fails_otherwise() {
    let (mut s, m) = session(ATR_HIST, &[(SELECT_PIV, NOT_FOUND), (SELECT_GIDS, &hex!("6E00"))]);
    let out = class_minidriver(&mut s, &ClassConfig::default()).unwrap();
    assert_clean(&m);
    assert_eq!(out.edge, None);
}

#[test]
fn class_vendor_gids_aid() {
    let custom = hex!("A000000397425446590201");
    let (mut s, m) = session(ATR_HIST, &[(SELECT_PIV, NOT_FOUND), (&hex!("00A404000BA00000039742544659020100"), OK)]);
    let out =
        class_minidriver(&mut s, &ClassConfig { custom_gids_aid: Some(custom.to_vec()), request_fci: false }).unwrap();
    assert_clean(&m);
    assert_eq!(out.edge, Some(CardEdge::Gids));
}

#[test]
fn class_piv_with_fci_returns_the_template() {
    let select_le = hex!("00A4040009A00000030800001000 00");
    let template = hex!("61 03 4F 01 AA 90 00");
    let (mut s, m) = session(ATR_HIST, &[(&select_le, &template)]);
    let out = class_minidriver(&mut s, &ClassConfig { request_fci: true, ..ClassConfig::default() }).unwrap();
    assert_clean(&m);
    assert_eq!(out.edge, Some(CardEdge::Piv));
    assert!(out.application_selected());
    assert_eq!(out.selection().map(|r| r.data.clone()), Some(hex!("61 03 4F 01 AA").to_vec()));
}

#[test]
fn class_gids_by_not_found_selects_nothing() {
    let (mut s, m) = session(ATR_HIST, &[(SELECT_PIV, NOT_FOUND), (SELECT_GIDS, NOT_FOUND)]);
    let out = class_minidriver(&mut s, &ClassConfig::default()).unwrap();
    assert_clean(&m);
    assert_eq!(out.edge, Some(CardEdge::Gids));
    assert!(!out.application_selected());
    let (mut s, _) = session(ATR_HIST, &[(SELECT_PIV, NOT_FOUND), (SELECT_GIDS, &hex!("6E00"))]);
    let out = class_minidriver(&mut s, &ClassConfig::default()).unwrap();
    assert_eq!(out.selection(), None);
}
