//! Key containers and their public-key blobs (§4.5.2, §4.6.4, §5.4.4): every valid record's
//! container answers, its blobs have the CAPI/CNG layout, the property forms agree, missing
//! containers are `SCARD_E_NO_KEY_CONTAINER`.

use minidriver::abi::{code, keyspec, pin, prop};

use super::super::Level;
use super::super::registry::{Check, check};
use super::super::run::{Checked, Run, Verdict, ensure};
use super::super::survey::{RECORD_DEFAULT, dword};
use super::{INVALID, NO_CONTAINER};
use crate::csp::raw::{container_info_blobs, container_property, query_key_sizes};

pub(crate) const CHECKS: &[Check] = &[
    check("containers.info", 130, "CardGetContainerInfo answers for every valid cmapfile record", info),
    check("containers.missing", 130, "a container that does not exist is SCARD_E_NO_KEY_CONTAINER", missing),
    check("containers.rsa_blob", 131, "RSA keys are PUBLICKEYBLOBs: header, RSA1, bitlen, modulus", rsa_blob),
    check("containers.ecc_blob", 132, "ECC keys are BCRYPT_ECCKEY_BLOBs in the slot of their use", ecc_blob),
    check("containers.key_sizes", 119, "every key's size is one CP_CARD_KEYSIZES allows", sizes),
    check("containers.record_sizes", 133, "cmapfile's key sizes match the keys; one default container", records)
        .level(Level::Should),
    check(
        "containers.property_info",
        120,
        "CCP_CONTAINER_INFO gives the blobs CardGetContainerInfo gives",
        property_info,
    ),
    check("containers.pin_identifier", 120, "CCP_PIN_IDENTIFIER is a listed PIN, never ROLE_ADMIN", pin_identifier),
    check("containers.property_errors", 120, "unknown property, short buffer, missing container are refused", errors),
];

fn info(run: &mut Run<'_>) -> Checked {
    let survey = run.survey()?;
    ensure(survey.unreadable.is_empty(), || {
        let list: Vec<_> = survey.unreadable.iter().map(|(i, why)| format!("container {i}: {why}")).collect();
        list.join("; ")
    })?;
    ensure(!survey.containers.is_empty(), || "cmapfile lists no valid container".to_owned())?;
    let list: Vec<_> = survey
        .containers
        .iter()
        .map(|c| {
            let keys: Vec<_> =
                c.keys.iter().map(|k| format!("key spec {} ({} bits)", k.key_spec, k.key.bits())).collect();
            format!("[{}] {}", c.index, keys.join(" + "))
        })
        .collect();
    Ok(Verdict::pass(list.join(", ")))
}

fn missing(run: &mut Run<'_>) -> Checked {
    let unused = run.survey()?.unused_index();
    let csp = run.main()?;
    let (got, sig, kx) = container_info_blobs(csp.raw(), unused, 0);
    run.expect(&format!("CardGetContainerInfo({unused})"), got, &[NO_CONTAINER])?;
    ensure(sig.is_none() && kx.is_none(), || "refused, but a key blob was returned".to_owned())?;
    Ok(Verdict::pass(format!("container {unused} refused")))
}

/// Each valid container's two blobs as the driver returns them.
/// A container's index and its `CONTAINER_INFO` blobs (signature, key exchange).
type Blobs = (u8, Vec<u8>, Vec<u8>);

fn blobs(run: &mut Run<'_>) -> Result<Vec<Blobs>, Verdict> {
    let indexes: Vec<u8> = run.survey()?.containers.iter().map(|c| c.index).collect();
    let csp = run.main()?;
    Ok(indexes.into_iter().filter_map(|i| csp.container_info(i).ok().map(|(s, k)| (i, s, k))).collect())
}

fn rsa_blob(run: &mut Run<'_>) -> Checked {
    let mut seen = 0;
    for (index, sig, kx) in blobs(run)? {
        for (blob, alg, slot) in [(&sig, 0x2400_u32, "signature"), (&kx, 0xA400, "key exchange")] {
            if blob.first() != Some(&0x06) {
                continue;
            }
            seen += 1;
            let word = |at: usize| blob.get(at..at + 4).and_then(dword).unwrap_or(0);
            ensure(blob.get(1..4) == Some(&[2, 0, 0][..]), || {
                format!("container {index}: bVersion/reserved {:02X?}", blob.get(1..4))
            })?;
            ensure(word(4) == alg, || format!("container {index}: aiKeyAlg 0x{:04X} in the {slot} slot", word(4)))?;
            ensure(word(8) == 0x3141_5352, || format!("container {index}: magic 0x{:08X}, not RSA1", word(8)))?;
            let n = word(12).div_ceil(8) as usize;
            ensure(blob.len() == 20 + n, || {
                format!("container {index}: {} bytes for a {}-bit key (20 + {n} expected)", blob.len(), word(12))
            })?;
            ensure(blob.get(20 + n - 1).is_some_and(|b| *b != 0), || {
                format!("container {index}: the modulus is not little-endian (its last byte is 0)")
            })?;
        }
    }
    if seen == 0 {
        return Err(Verdict::skip("the card has no RSA key"));
    }
    Ok(Verdict::pass(format!("{seen} RSA blobs")))
}

fn ecc_blob(run: &mut Run<'_>) -> Checked {
    let mut seen = 0;
    for (index, sig, kx) in blobs(run)? {
        for (blob, signature_slot) in [(&sig, true), (&kx, false)] {
            if blob.is_empty() || blob.first() == Some(&0x06) {
                continue;
            }
            seen += 1;
            let magic = blob.get(..4).and_then(dword).unwrap_or(0);
            let len = blob.get(4..8).and_then(dword).unwrap_or(0) as usize;
            let (ecdsa, size) = match magic {
                0x3153_4345 => (true, 32),
                0x3353_4345 => (true, 48),
                0x3553_4345 => (true, 66),
                0x314B_4345 => (false, 32),
                0x334B_4345 => (false, 48),
                0x354B_4345 => (false, 66),
                m => return Err(Verdict::fail(format!("container {index}: unknown blob magic 0x{m:08X}"))),
            };
            ensure(ecdsa == signature_slot, || {
                format!("container {index}: an {} key in the wrong slot", if ecdsa { "ECDSA" } else { "ECDH" })
            })?;
            ensure(len == size, || format!("container {index}: cbKey {len}, expected {size}"))?;
            ensure(blob.len() == 8 + 2 * size, || {
                format!("container {index}: {} bytes, expected {}", blob.len(), 8 + 2 * size)
            })?;
        }
    }
    if seen == 0 {
        return Err(Verdict::skip("the card has no ECC key"));
    }
    Ok(Verdict::pass(format!("{seen} ECC blobs")))
}

fn sizes(run: &mut Run<'_>) -> Checked {
    let keys: Vec<(u8, u32, u32)> = run.survey()?.keys().map(|(c, k)| (c.index, k.key_spec, k.key.bits())).collect();
    for (index, spec, bits) in keys {
        let csp = run.main()?;
        let (got, [_, min, _, max, step]) = query_key_sizes(csp.raw(), spec, 0);
        run.expect(&format!("CardQueryKeySizes({spec}) for container {index}"), got, &[0])?;
        let fits = bits >= min && bits <= max && (step == 0 || (bits - min) % step == 0);
        ensure(fits, || {
            format!("container {index}: a {bits}-bit key, key spec {spec} allows {min}-{max} step {step}")
        })?;
    }
    Ok(Verdict::pass("every key within its key spec's sizes"))
}

fn records(run: &mut Run<'_>) -> Checked {
    let survey = run.survey()?;
    for c in &survey.containers {
        let (sig_bits, kx_bits) = c.record_bits;
        for k in &c.keys {
            let recorded =
                if matches!(k.key_spec, keyspec::AT_KEYEXCHANGE | keyspec::AT_ECDHE_P256 | keyspec::AT_ECDHE_P384) {
                    kx_bits
                } else {
                    sig_bits
                };
            ensure(u32::from(recorded) == k.key.bits(), || {
                format!("container {}: cmapfile says {recorded} bits, the key has {}", c.index, k.key.bits())
            })?;
        }
    }
    let defaults = survey.containers.iter().filter(|c| c.flags & RECORD_DEFAULT != 0).count();
    ensure(defaults == 1 || survey.containers.is_empty(), || format!("{defaults} default containers"))?;
    Ok(Verdict::pass("sizes consistent, one default"))
}

fn property_info(run: &mut Run<'_>) -> Checked {
    let indexes: Vec<u8> = run.survey()?.containers.iter().map(|c| c.index).collect();
    for index in indexes {
        let csp = run.main()?;
        let direct = csp.container_info(index);
        let property = csp.get_container_property(index, prop::CONTAINER_INFO);
        run.expect(&format!("CardGetContainerProperty({index}, CCP_CONTAINER_INFO)"), super::code_of(&property), &[0])?;
        let (sig, kx) = direct.unwrap_or_default();
        let blob = if sig.is_empty() { kx } else { sig };
        ensure(property.unwrap_or_default() == blob, || {
            format!("container {index}: the two forms give different keys")
        })?;
    }
    Ok(Verdict::pass("identical"))
}

fn pin_identifier(run: &mut Run<'_>) -> Checked {
    let survey = run.survey()?;
    let list = survey.pins.unwrap_or(0);
    let mut seen = Vec::new();
    for c in &survey.containers {
        let Some(id) = c.pin_id else {
            return Err(Verdict::fail(format!("container {}: CCP_PIN_IDENTIFIER not answered", c.index)));
        };
        ensure(id != pin::ROLE_ADMIN, || format!("container {}: associated with ROLE_ADMIN", c.index))?;
        ensure(id == pin::ROLE_EVERYONE || (id < 8 && list & (1 << id) != 0), || {
            format!("container {}: PIN {id} is not in CP_CARD_LIST_PINS (0x{list:02X})", c.index)
        })?;
        seen.push(format!("[{}] PIN {id}", c.index));
    }
    Ok(Verdict::pass(seen.join(", ")))
}

fn errors(run: &mut Run<'_>) -> Checked {
    let survey = run.survey()?;
    let Some(index) = survey.containers.first().map(|c| c.index) else {
        return Err(Verdict::skip("no container"));
    };
    let unused = survey.unused_index();
    let csp = run.main()?;
    let (unknown, _, _) = container_property(csp.raw(), index, "Not A Property", 64, 0);
    let (short, _, _) = container_property(csp.raw(), index, prop::PIN_IDENTIFIER, 3, 0);
    let (absent, _, _) = container_property(csp.raw(), unused, prop::PIN_IDENTIFIER, 4, 0);
    run.expect("CardGetContainerProperty(\"Not A Property\")", unknown, &[INVALID])?;
    run.expect("CardGetContainerProperty(CCP_PIN_IDENTIFIER, cbData 3)", short, &[code::ERROR_INSUFFICIENT_BUFFER])?;
    run.expect(&format!("CardGetContainerProperty({unused}, CCP_PIN_IDENTIFIER)"), absent, &[NO_CONTAINER])?;
    Ok(Verdict::pass("refused each"))
}
