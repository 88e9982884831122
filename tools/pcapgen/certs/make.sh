#!/usr/bin/env bash
# make.sh DIR: how the DER certificates in this folder were made (ONCE, with
# OpenSSL 3.0). They are committed so the bundled captures regenerate
# byte-identically without openssl; running this again gives new keys and
# signatures (so different bytes and fingerprints): only do it on purpose,
# then regenerate pcaps/tls-* and tests/golden/tls-*.tsv. Private keys are
# written to DIR/keys and never committed. Fixed dates: the bundled captures
# are stamped 2024-01-02, inside every leaf's validity.
set -eu
out=${1:?usage: make.sh DIR}
mkdir -p "$out/keys" "$out/db"
cd "$out"
: >db/index.txt
cat >db/ca.cnf <<'CNF'
[ca]
default_ca = c
[c]
dir = .
database = db/index.txt
new_certs_dir = db
serial = db/serial
default_md = sha256
policy = p
unique_subject = no
preserve = yes
copy_extensions = none
[p]
commonName = optional
countryName = optional
organizationName = optional
[req]
distinguished_name = dn
prompt = no
[dn]
CN = x
[v3_ca]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[v3_int]
basicConstraints = critical, CA:true, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[v3_www]
basicConstraints = CA:false
extendedKeyUsage = serverAuth
subjectAltName = DNS:www.example.com, DNS:example.com
[v3_legacy]
basicConstraints = CA:false
subjectAltName = DNS:legacy.example.net
[v3_mail]
basicConstraints = CA:false
extendedKeyUsage = serverAuth
subjectAltName = DNS:mail.example.com, DNS:smtp.example.com
[v3_dtls]
basicConstraints = CA:false
subjectAltName = DNS:dtls.example.com, IP:192.0.2.44
[v3_alt]
basicConstraints = CA:false
subjectAltName = DNS:alt.example.org, DNS:*.alt.example.org
CNF
{
	printf '[v3_big]\nbasicConstraints = CA:false\nextendedKeyUsage = serverAuth\nsubjectAltName = @big\n[big]\nDNS.0 = big.example.com\n'
	i=1
	while [ $i -le 60 ]; do printf 'DNS.%d = host%02d.big.example.com\n' $i $i; i=$((i + 1)); done
} >>db/ca.cnf

q() { "$@" >/dev/null 2>db/err || { cat db/err >&2; exit 1; }; }
rsa() { q openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "keys/$1.key"; }
# sign NAME KEY SUBJ EXT ISSUER START END SERIAL
sign() {
	echo "$8" >db/serial
	q openssl req -new -key "keys/$2.key" -subj "$3" -config db/ca.cnf -out db/"$1".csr
	if [ "$5" = self ]; then
		q openssl ca -batch -notext -preserveDN -config db/ca.cnf -selfsign -keyfile "keys/$2.key" -extensions "$4" \
			-startdate "$6" -enddate "$7" -in db/"$1".csr -out db/"$1".pem
	else
		q openssl ca -batch -notext -preserveDN -config db/ca.cnf -cert db/"$5".pem -keyfile "keys/$5.key" -extensions "$4" \
			-startdate "$6" -enddate "$7" -in db/"$1".csr -out db/"$1".pem
	fi
	q openssl x509 -in db/"$1".pem -outform DER -out "$1".der
}
rsa root; rsa int; rsa leaf
sign root root "/C=US/O=Bindwatch Test/CN=Pcapgen Test Root" v3_ca self 20200101000000Z 20400101000000Z 10
sign int int "/C=US/O=Bindwatch Test/CN=Pcapgen Test Intermediate" v3_int root 20210101000000Z 20350101000000Z 11
sign www leaf "/C=US/O=Example, Inc./CN=www.example.com" v3_www int 20230601000000Z 20250601000000Z 1001
sign legacy leaf "/O=Legacy Example/CN=legacy.example.net" v3_legacy int 20230601000000Z 20250601000000Z 1002
sign mail leaf "/CN=mail.example.com" v3_mail int 20230601000000Z 20250601000000Z 1003
sign dtls leaf "/CN=dtls.example.com" v3_dtls int 20230601000000Z 20250601000000Z 1004
sign alt leaf "/CN=alt.example.org" v3_alt int 20230601000000Z 20250601000000Z 1005
sign big leaf "/C=US/O=Example, Inc./CN=big.example.com" v3_big int 20230601000000Z 20250601000000Z 1006
cp db/root.pem root.pem
rm -rf db
