//! The provisioned cards: what the default card holds, exactly as a host reads it, and the
//! builder's options.

use hex_literal::hex;
use x509_cert::Certificate;
use x509_cert::der::Decode;

use super::{Host, PIN};
use crate::gids::decompress_certificate;
use crate::{ContainerKey, GidsSim};
use test_vectors::keys;

fn spki_of(cert: &[u8]) -> Vec<u8> {
    use x509_cert::der::Encode;
    Certificate::from_der(cert).unwrap().tbs_certificate().subject_public_key_info().to_der().unwrap()
}

#[test]
fn the_default_card_as_opensc_reads_it() {
    let mut host = Host::default_card();
    // Master file: the five initial records plus mscp/kxc00 -> DF24 and mscp/kxc01 -> DF25.
    let mf = host.get_do(0xA000, 0xDF1F);
    assert_eq!(mf.data[..4], hex!("DF1F81C5"), "1 + 7 x 28 = 197 bytes");
    let mf = &mf.data[4..];
    assert_eq!(mf[..141], crate::gids::provision::initial_masterfile()[..]);
    assert_eq!(mf[141..169], hex!("6D73637000000000006B786330300000000000 0024DF000010A00000"));
    assert_eq!(mf[169..], hex!("6D73637000000000006B786330310000000000 0025DF000010A00000"));
    // cmapfile: two records, the first the default one, key-exchange sizes 2048 and 3072.
    let cmap = host.get_do(0xA010, 0xDF23).data;
    assert_eq!(cmap[..3], hex!("DF2381"));
    assert_eq!(cmap[3], 172);
    let cmap = &cmap[4..];
    assert_eq!(cmap[80..86], hex!("030000000008"));
    assert_eq!(cmap[86 + 80..], hex!("01000000000C"));
    let name: String = char::decode_utf16(cmap[..72].chunks(2).map(|c| u16::from_le_bytes([c[0], c[1]])))
        .map(Result::unwrap)
        .collect();
    assert_eq!(name.len(), 36);
    assert_eq!(name, name.to_lowercase());
    assert_eq!(name.matches('-').count(), 4);
    assert_eq!(cmap[72..80], [0; 8]);
    // Keymap, cardid, cardapps, cardcf.
    assert_eq!(
        host.get_do(0xA000, 0xDF20).data,
        hex!("DF2019 01 01000000079A81B0FFFF0000 01000000089A82B0FFFF0000").to_vec()
    );
    let cardid = host.get_do(0xA012, 0xDF20).data;
    assert_eq!(cardid[..2], hex!("DF20"));
    assert_eq!(cardid.len(), 19);
    assert_eq!(cardid[3..], GidsSim::default_card().unwrap().data_object(0xA012, 0xDF20).unwrap()[..], "from the seed");
    assert_eq!(host.get_do(0xA010, 0xDF21).data, hex!("DF21086D73637000000000").to_vec());
    assert_eq!(host.get_do(0xA010, 0xDF22).data, hex!("DF2206 0000 0200 0800").to_vec());
    // PIN status: 3 tries; no PUK.
    assert_eq!(host.transmit([0x00, 0xCB, 0x3F, 0xFF], &hex!("5C027F71")).data, hex!("7F7106970103930103").to_vec());
    assert_eq!(host.sw(&hex!("00CB3FFF045C027F7300")), 0x6A88);
    // Certificates: compressed, for the container keys, issued by the test CA.
    for (tag, spki) in [(0xDF24, keys::RSA_2048_B_SPKI), (0xDF25, keys::RSA_3072_SPKI)] {
        let file = host.sim.data_object(0xA010, tag).unwrap();
        assert_eq!(file[..2], hex!("0100"));
        assert_eq!(file[4..6], hex!("789C"));
        let der = decompress_certificate(&file).unwrap();
        assert_eq!(spki_of(&der), spki);
        let cert = Certificate::from_der(&der).unwrap();
        let ca = Certificate::from_der(test_vectors::certs::CA).unwrap();
        assert_eq!(cert.tbs_certificate().issuer(), ca.tbs_certificate().subject());
        assert!(cert.tbs_certificate().subject().to_string().contains("GIDS Container"));
    }
    // Both key files hold the key-exchange template of their size.
    assert_eq!(host.send(&hex!("00A4000402B08100")).data, crate::gids::provision::key_file_fcp(0x81, 0x07, true));
    assert_eq!(host.send(&hex!("00A4000402B08200")).data, crate::gids::provision::key_file_fcp(0x82, 0x08, true));
}

#[test]
fn one_seed_one_card() {
    let a = GidsSim::builder(b"seed A").container(ContainerKey::Fixed(keys::RSA_1024.to_vec()), true).build().unwrap();
    let b = GidsSim::builder(b"seed A").container(ContainerKey::Fixed(keys::RSA_1024.to_vec()), true).build().unwrap();
    let c = GidsSim::builder(b"seed B").container(ContainerKey::Fixed(keys::RSA_1024.to_vec()), true).build().unwrap();
    for (fi, tag) in [(0xA012, 0xDF20), (0xA010, 0xDF23), (0xA010, 0xDF24)] {
        assert_eq!(a.data_object(fi, tag), b.data_object(fi, tag));
    }
    assert_ne!(a.data_object(0xA012, 0xDF20), c.data_object(0xA012, 0xDF20));
    assert_ne!(a.data_object(0xA010, 0xDF23), c.data_object(0xA010, 0xDF23));
}

#[test]
fn builder_options() {
    let sim = GidsSim::builder(b"options")
        .pin(b"0000")
        .pin_tries(5)
        .puk(b"12345678", 2)
        .admin_key([0x42; 24])
        .cardid([0xCD; 16])
        .container(ContainerKey::Generated(1024), false)
        .signature_container(ContainerKey::Fixed(keys::RSA_1024.to_vec()), true)
        .build()
        .unwrap();
    assert_eq!(sim.pin_tries_left(), Some(5));
    assert_eq!(sim.puk_tries_left(), Some(2));
    assert_eq!(sim.data_object(0xA012, 0xDF20), Some(vec![0xCD; 16]));
    let mut host = Host::new(sim.clone());
    host.select();
    assert_eq!(host.verify(b"0000"), 0x9000);
    assert_eq!(host.mutual_auth(&[0x42; 24]), 0x9000);
    // Container 0 has no certificate; container 1 is signature-only with one: ksc01 -> DF24.
    let mf = sim.data_object(0xA000, 0xDF1F).unwrap();
    assert_eq!(mf.len(), 1 + 6 * 28);
    assert_eq!(mf[141..150], *b"mscp\0\0\0\0\0");
    assert_eq!(mf[150..155], *b"ksc01");
    let cmap = sim.data_object(0xA010, 0xDF23).unwrap();
    assert_eq!(cmap[80..86], hex!("030000000004"));
    assert_eq!(cmap[86 + 80..], hex!("010000040000"));
    assert_eq!(sim.data_object(0xA000, 0xDF20).unwrap()[1..13], hex!("01000000069A81B0FFFF0000"));
    assert_eq!(sim.data_object(0xA000, 0xDF20).unwrap()[13..], hex!("01000000069C82B0FFFF0000"));
    assert_eq!(sim.public_key(0x82).unwrap(), keys::RSA_1024_SPKI);
    // The signature-only key may not decipher.
    assert_eq!(host.sw(&hex!("002241B806800146840182")), 0x6984);
    assert_eq!(host.sw(&hex!("002241B606800156840182")), 0x9000);
    // Generated keys follow the seed.
    let again = GidsSim::builder(b"options").container(ContainerKey::Generated(1024), false).build().unwrap();
    assert_eq!(again.public_key(0x81), sim.public_key(0x81));
    assert_eq!(again.data_object(0xA000, 0xDF20).unwrap().len(), 13);
}

#[test]
fn invalid_requests_are_refused() {
    assert!(GidsSim::builder(b"x").pin(b"123").build().is_err());
    assert!(GidsSim::builder(b"x").pin_tries(0).build().is_err());
    assert!(GidsSim::builder(b"x").puk(b"1", 3).build().is_err());
    assert!(GidsSim::builder(b"x").container(ContainerKey::Generated(1000), false).build().is_err());
    assert!(GidsSim::builder(b"x").container(ContainerKey::Fixed(keys::P256_A.to_vec()), false).build().is_err());
    assert!(GidsSim::builder(b"x").capacity(100).build().is_err());
}

#[test]
fn an_empty_operational_card() {
    let sim = GidsSim::builder(b"empty").build().unwrap();
    let mut host = Host::new(sim);
    host.select();
    assert_eq!(host.get_do(0xA010, 0xDF23).data, hex!("DF2300").to_vec());
    assert_eq!(host.get_do(0xA000, 0xDF20).sw.0, 0x6A88, "no keymap without containers, as OpenSC leaves it");
    assert_eq!(host.get_do(0xA010, 0xDF22).data, hex!("DF2206000000000000").to_vec());
    assert_eq!(host.verify(PIN), 0x9000);
}

#[test]
fn factory_new() {
    let sim = GidsSim::builder(b"ignored").factory_new().build().unwrap();
    assert!(!sim.is_operational());
    assert!(sim.files().is_empty());
    assert_eq!(sim.pin_tries_left(), None);
}
