//! Codec benches: BER-TLV, the VFS's well-known files, ATR and CardID parsing, and the host-side
//! work of every signature: the certificate's public key and the check of a card's RSA result.
//!
//! Inputs are the real bytes of `test-vectors`. Run with `cargo bench -p md-benches`; `cargo test
//! -p md-benches --benches` runs each bench once as a smoke test.
#![allow(clippy::expect_used, reason = "benchmark setup on fixed, valid inputs")]

use std::hint::black_box;

use card_edges::detect::CardId;
use card_edges::iso7816::Atr;
use card_edges::iso7816::tlv::{self, Tag};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use vfs::cardcf::CacheFile;
use vfs::cmapfile::{ContainerMap, ContainerRecord};

/// A PIV certificate object as GET DATA returns it: `53 { 70 cert, 71 CertInfo, FE LRC }`.
fn piv_cert_object(cert: &[u8]) -> Vec<u8> {
    let mut inner = tlv::encode(Tag(0x70), cert).expect("certificate fits a TLV");
    inner.extend_from_slice(&[0x71, 0x01, 0x00, 0xFE, 0x00]);
    tlv::encode(Tag(0x53), &inner).expect("object fits a TLV")
}

/// Reads every object at every level within [`tlv::MAX_DEPTH`], descending into constructed tags;
/// returns how many there are. (PIV's `53` container has the primitive bit, so this is run on the
/// certificate's DER, which is BER too, rather than on the `53` object.)
fn walk(data: &[u8]) -> usize {
    let mut count = 0;
    let mut stack = vec![(data, 0)];
    while let Some((level, depth)) = stack.pop() {
        for obj in tlv::Reader::new(level).map_while(Result::ok) {
            count += 1;
            if obj.tag.is_constructed() && depth < tlv::MAX_DEPTH {
                stack.push((obj.value, depth + 1));
            }
        }
    }
    count
}

fn bench_tlv(c: &mut Criterion) {
    let cert = test_vectors::certs::PIV_AUTH_9A;
    let object = piv_cert_object(cert);
    let mut group = c.benchmark_group("tlv");
    // `find` skips over values without reading them, so no throughput for it.
    group.bench_function("find_53_70_piv_cert_9a", |b| {
        b.iter(|| tlv::find(black_box(&object), &[Tag(0x53), Tag(0x70)]));
    });
    assert!(walk(cert) > 50, "the walk reads the whole certificate");
    group.throughput(Throughput::Bytes(cert.len() as u64));
    group.bench_function("walk_cert_9a_der", |b| b.iter(|| walk(black_box(cert))));
    group.throughput(Throughput::Bytes(object.len() as u64));
    group.bench_function("encode_piv_cert_9a_object", |b| b.iter(|| piv_cert_object(black_box(cert))));
    group.finish();
}

/// A container map of `n` records, each a valid container (the first one default).
fn container_map(n: usize) -> ContainerMap {
    let records = (0..n)
        .map(|i| {
            let name = format!("{:08x}-0000-4000-8000-{:012x}", i + 1, i + 1);
            let flags = if i == 0 { 0x03 } else { 0x01 };
            ContainerRecord::new(&name, flags, 256, 2048).expect("valid record")
        })
        .collect();
    ContainerMap::new(records).expect("one default container")
}

fn bench_cmapfile(c: &mut Criterion) {
    let mut group = c.benchmark_group("cmapfile");
    for n in [1, 24] {
        let map = container_map(n);
        let bytes = map.encode();
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_with_input(BenchmarkId::new("decode", n), &bytes, |b, bytes| {
            b.iter(|| ContainerMap::decode(black_box(bytes)));
        });
        group.bench_with_input(BenchmarkId::new("encode", n), &map, |b, map| b.iter(|| black_box(map).encode()));
    }
    group.finish();
}

fn bench_cardcf(c: &mut Criterion) {
    // `cardcf` of a card with one application (`mscp`): the 6-byte header and one counter.
    let bytes = [0x00, 0x01, 0x02, 0x00, 0x05, 0x00, 0x07, 0x00, 0x00, 0x00];
    let cf = CacheFile::decode(&bytes).expect("valid cardcf");
    let mut group = c.benchmark_group("cardcf");
    group.bench_function("decode", |b| b.iter(|| CacheFile::decode(black_box(&bytes))));
    group.bench_function("encode", |b| b.iter(|| black_box(&cf).encode()));
    group.finish();
}

fn bench_atr(c: &mut Criterion) {
    let mut group = c.benchmark_group("atr");
    group.bench_function("parse_yubikey_5_nfc_usb", |b| {
        b.iter(|| Atr::parse(black_box(test_vectors::atr::YUBIKEY_5_NFC_USB)));
    });
    group.bench_function("parse_and_capabilities_nist_test_piv", |b| {
        b.iter(|| Atr::parse(black_box(test_vectors::atr::NIST_TEST_PIV)).map(|atr| atr.card_capabilities()));
    });
    group.finish();
}

fn bench_card_id(c: &mut Criterion) {
    let mut group = c.benchmark_group("card_id");
    group.bench_function("parse_3_guids", |b| {
        b.iter(|| CardId::parse(black_box(test_vectors::cardid::CARDID_3_GUIDS)));
    });
    group.bench_function("parse_7f68_wrapped", |b| {
        b.iter(|| CardId::parse(black_box(test_vectors::cardid::GET_DATA_7F68_WRAPPED)));
    });
    group.finish();
}

fn bench_keys(c: &mut Criterion) {
    use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey};
    let mut group = c.benchmark_group("key");
    let cert = test_vectors::certs::PIV_AUTH_9A;
    group.bench_function("public_key_from_certificate_9a", |b| {
        b.iter(|| card_edges::key::PublicKey::from_certificate(black_box(cert)))
    });
    let private = rsa::RsaPrivateKey::from_pkcs8_der(test_vectors::keys::RSA_2048_A).expect("test key");
    let spki = private.to_public_key().to_public_key_der().expect("spki").into_vec();
    let public = card_edges::key::PublicKey::from_spki(&spki).expect("public key");
    let hash = [0x5A; 32];
    let signature = private.sign(rsa::Pkcs1v15Sign::new_unprefixed(), &hash).expect("signature");
    let rsa_public = card_edges::crypto::public_key_from_spki(&spki).expect("rsa key");
    let block = card_edges::crypto::raw_public(&rsa_public, &signature).expect("block");
    group.bench_function("check_rsa_2048_private_result", |b| {
        b.iter(|| card_edges::crypto::check::rsa_private_result(black_box(&public), &block, &signature))
    });
    group.finish();
}

criterion_group!(benches, bench_tlv, bench_cmapfile, bench_cardcf, bench_atr, bench_card_id, bench_keys);
criterion_main!(benches);
