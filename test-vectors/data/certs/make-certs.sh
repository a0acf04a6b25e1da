#!/bin/sh
# Makes the certificates of test-vectors/src/certs.rs from the keys in ../keys.
# Run from test-vectors/data/certs with OpenSSL 3: sh make-certs.sh
# The CA key is RSA, so PKCS#1 v1.5 signatures are deterministic and a rerun
# gives the same bytes.
set -eu
here=$(pwd)
keys=$here/../keys
work=$(mktemp -d)
cd "$work"
mkdir new
: > index.txt
O="/C=US/O=Minidriver Test Vectors"
VALIDITY="-startdate 250101000000Z -enddate 450101000000Z"

# issue NAME KEY SERIAL EXTENSIONS SUBJECT [selfsign]
issue() {
    openssl req -new -config "$here/openssl.cnf" -keyform DER -key "$keys/$2.pk8.der" \
        -subj "$5" -out "$1.csr"
    echo "$3" > serial
    if [ "${6:-}" = selfsign ]; then
        signer="-selfsign -keyfile $keys/$2.pk8.der -keyform DER"
    else
        signer="-cert ca.pem -keyfile $keys/rsa2048_c.pk8.der -keyform DER"
    fi
    # shellcheck disable=SC2086
    openssl ca -config "$here/openssl.cnf" -batch -notext $VALIDITY $signer \
        -extensions "$4" -in "$1.csr" -out "$1.pem"
    openssl x509 -in "$1.pem" -outform DER -out "$here/$1.der"
}

issue ca rsa2048_c 01 ext_ca "$O/CN=Minidriver Test PIV CA" selfsign
cp "$here/ca.der" ca.der && openssl x509 -inform DER -in ca.der -out ca.pem
issue piv_auth_9a          rsa2048_a 9A01 ext_9a     "$O/OU=PIV Authentication/CN=Alice Example"
issue digital_signature_9c p256_a    9C01 ext_9c     "$O/OU=Digital Signature/CN=Alice Example"
issue key_management_9d    rsa2048_b 9D01 ext_9d     "$O/OU=Key Management/CN=Alice Example"
issue key_management_9d_ec p256_c    9D02 ext_9d_ec  "$O/OU=Key Management/CN=Alice Example"
issue card_auth_9e         p256_b    9E01 ext_9e     "$O/OU=Card Authentication/CN=44a38407-356c-45ca-b037-6bf76cb4cb07"
issue retired_82_rsa1024   rsa1024   8201 ext_retired_rsa      "$O/OU=Retired Key Management 1/CN=Alice Example"
issue retired_83_rsa3072   rsa3072   8301 ext_retired_rsa      "$O/OU=Retired Key Management 2/CN=Alice Example"
issue retired_84_rsa4096   rsa4096   8401 ext_retired_rsa      "$O/OU=Retired Key Management 3/CN=Alice Example"
issue retired_85_p384      p384_a    8501 ext_retired_ec_sign  "$O/OU=Retired Key Management 4/CN=Alice Example"
issue retired_86_p384      p384_b    8601 ext_retired_ec_agree "$O/OU=Retired Key Management 5/CN=Alice Example"
issue self_signed_rsa2048  rsa2048_a 5E1F ext_selfsigned "/CN=Alice Example (self-signed)" selfsign

# PIV CertInfo = 01: the certificate gzip-compressed, with no name and no time stamp.
gzip -n -9 -c "$here/piv_auth_9a.der" > "$here/piv_auth_9a.der.gz"

cd "$here"
rm -rf "$work"
