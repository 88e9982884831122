#!/usr/bin/env bash
# certgen.sh DIR: make the test certificates for tests/test_x509.c and
# tests/test_certcache.c into DIR (created if missing), with the openssl
# command, at test time, so no private key is ever committed.
#
# Every certificate gets fixed dates (openssl ca -startdate/-enddate), so the
# tests judge them at fixed validation times and never depend on today's date.
# Keys are EC prime256v1 (fast) except leaf-rsa (RSA 2048). Silent on success.
#
# Output (DER unless the name ends in .pem):
#   root.pem root.der          private root CA "Bindwatch Test Root" 2015..2045
#   int.der                    intermediate under root                 2016..2044
#   leaf-valid.der             www.example.com (+example.com, email, URI, IP) 2020..2040, serial 8A07E08D4AB50A7B
#   leaf-expired.der           www.example.com                          2016-01-01..2017-01-01
#   leaf-future.der            www.example.com (GeneralizedTime)        2099-01-01..2100-01-01
#   leaf-old.der               old.example.com                          1965-01-01..2060-01-01
#   leaf-wrongname.der         other.example.net
#   leaf-wildcard.der          *.example.com
#   leaf-ip.der                IP 192.0.2.10, 2001:db8::10
#   leaf-rsa.der               rsa.example.com, RSA 2048
#   leaf-manysan.der           3000 DNS names n0..n2999.example.com
#   leaf-evil.der              subject with a control character, a comma and UTF-8
#   leaf-badsig.der            leaf-valid with the last signature byte flipped
#   selfsigned.der             self-signed www.example.com
#   privca.pem                 a second private CA; leaf-priv.der is signed by it
#   deep-int1..3.der deep-leaf.der   root -> int -> deep-int1 -> deep-int2 -> deep-int3 -> deep-leaf
#   chain-wrongorder.pem       deep-leaf, deep-int1, deep-int3, deep-int2 (PEM bundle)
#   badca.pem                  not a certificate (for the trust-store error test)
set -eu

out=${1:?usage: certgen.sh DIR}
command -v openssl >/dev/null 2>&1 || { echo "certgen.sh: openssl not found" >&2; exit 2; }
mkdir -p "$out"
cd "$out"
rm -rf db && mkdir db
: >db/index.txt

cat >ca.cnf <<'EOF'
[ca]
default_ca = bwca
[bwca]
dir = .
database = db/index.txt
new_certs_dir = db
serial = db/serial
default_md = sha256
policy = anything
unique_subject = no
preserve = yes
copy_extensions = none
[anything]
commonName = optional
countryName = optional
organizationName = optional
organizationalUnitName = optional
stateOrProvinceName = optional
localityName = optional
[req]
distinguished_name = dn
prompt = no
[dn]
CN = placeholder
[v3_ca]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[v3_int]
basicConstraints = critical, CA:true, pathlen:4
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[v3_valid]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = DNS:www.example.com, DNS:example.com, email:admin@example.com, URI:https://www.example.com/, IP:192.0.2.1
[v3_www]
basicConstraints = CA:false
extendedKeyUsage = serverAuth
subjectAltName = DNS:www.example.com
[v3_old]
basicConstraints = CA:false
subjectAltName = DNS:old.example.com
[v3_wrongname]
basicConstraints = CA:false
subjectAltName = DNS:other.example.net
[v3_wildcard]
basicConstraints = CA:false
extendedKeyUsage = serverAuth
subjectAltName = DNS:*.example.com
[v3_ip]
basicConstraints = CA:false
subjectAltName = IP:192.0.2.10, IP:2001:db8::10
[v3_rsa]
basicConstraints = CA:false
keyUsage = digitalSignature, keyEncipherment
subjectAltName = DNS:rsa.example.com
[v3_priv]
basicConstraints = CA:false
subjectAltName = DNS:priv.example.com
[v3_deep]
basicConstraints = CA:false
subjectAltName = DNS:deep.example.com
[v3_evil]
basicConstraints = CA:false
[v3_self]
basicConstraints = CA:false
subjectAltName = DNS:www.example.com
EOF

{
	printf '[v3_many]\nbasicConstraints = CA:false\nsubjectAltName = @many\n[many]\n'
	i=0
	while [ $i -lt 3000 ]; do
		printf 'DNS.%d = n%d.example.com\n' $i $i
		i=$((i + 1))
	done
} >>ca.cnf

q() { "$@" >/dev/null 2>db/last.err || { cat db/last.err >&2; exit 1; }; }

eckey() { q openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out "$1"; }

# sign NAME KEY SUBJ EXT ISSUER START END SERIAL
# ISSUER is a base name with ISSUER.pem and ISSUER.key, or "self".
sign() {
	local name=$1 key=$2 subj=$3 ext=$4 issuer=$5 start=$6 end=$7 serial=$8
	echo "$serial" >db/serial
	q openssl req -new -key "$key" -subj "$subj" -utf8 -config ca.cnf -out db/"$name".csr
	if [ "$issuer" = self ]; then
		q openssl ca -batch -notext -utf8 -preserveDN -config ca.cnf -selfsign -keyfile "$key" \
			-extensions "$ext" -startdate "$start" -enddate "$end" \
			-in db/"$name".csr -out "$name".pem
	else
		q openssl ca -batch -notext -utf8 -preserveDN -config ca.cnf -cert "$issuer".pem -keyfile "$issuer".key \
			-extensions "$ext" -startdate "$start" -enddate "$end" \
			-in db/"$name".csr -out "$name".pem
	fi
	q openssl x509 -in "$name".pem -outform DER -out "$name".der
}

eckey root.key
eckey int.key
eckey leaf.key
eckey privca.key
eckey deep-int1.key
eckey deep-int2.key
eckey deep-int3.key
q openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa.key

sign root root.key "/C=US/O=Bindwatch Test/CN=Bindwatch Test Root" v3_ca self 20150101000000Z 20450101000000Z 01
sign int int.key "/C=US/O=Bindwatch Test/CN=Bindwatch Test Intermediate" v3_int root 20160101000000Z 20440101000000Z 1000
sign privca privca.key "/O=Private Corp/CN=Private Corp CA" v3_ca self 20150101000000Z 20450101000000Z 02

S='/C=US/ST=California/L=San Francisco/O=Example, Inc./OU=Web/CN=www.example.com'
sign leaf-valid leaf.key "$S" v3_valid int 20200101000000Z 20400101000000Z 8A07E08D4AB50A7B
sign leaf-expired leaf.key "/CN=www.example.com" v3_www int 20160101000000Z 20170101000000Z 2001
sign leaf-future leaf.key "/CN=www.example.com" v3_www int 20990101000000Z 21000101000000Z 2002
sign leaf-old leaf.key "/CN=old.example.com" v3_old int 19650101000000Z 20600101000000Z 2003
sign leaf-wrongname leaf.key "/CN=other.example.net" v3_wrongname int 20200101000000Z 20400101000000Z 2004
sign leaf-wildcard leaf.key "/CN=*.example.com" v3_wildcard int 20200101000000Z 20400101000000Z 2005
sign leaf-ip leaf.key "/CN=192.0.2.10" v3_ip int 20200101000000Z 20400101000000Z 2006
sign leaf-rsa rsa.key "/CN=rsa.example.com" v3_rsa int 20200101000000Z 20400101000000Z 2007
sign leaf-manysan leaf.key "/CN=n0.example.com" v3_many int 20200101000000Z 20400101000000Z 2008
sign leaf-evil leaf.key "$(printf '/O=Evil, Co\001rp/CN=\303\251vil.example.com')" v3_evil int 20200101000000Z 20400101000000Z 2009
sign leaf-priv leaf.key "/CN=priv.example.com" v3_priv privca 20200101000000Z 20400101000000Z 200A
sign selfsigned leaf.key "/CN=www.example.com" v3_self self 20200101000000Z 20400101000000Z 200B
sign deep-int1 deep-int1.key "/CN=Deep Int 1" v3_int int 20160101000000Z 20440101000000Z 3001
sign deep-int2 deep-int2.key "/CN=Deep Int 2" v3_int deep-int1 20160101000000Z 20440101000000Z 3002
sign deep-int3 deep-int3.key "/CN=Deep Int 3" v3_int deep-int2 20160101000000Z 20440101000000Z 3003
sign deep-leaf leaf.key "/CN=deep.example.com" v3_deep deep-int3 20200101000000Z 20400101000000Z 3004

# The last byte of an ECDSA signature is the low byte of s: flipping it keeps
# the DER well formed and makes the signature wrong.
n=$(wc -c <leaf-valid.der)
last=$(tail -c 1 leaf-valid.der | od -An -tu1 | tr -d ' ')
head -c $((n - 1)) leaf-valid.der >leaf-badsig.der
# shellcheck disable=SC2059 # the format is the escaped byte itself
printf "\\$(printf %o $((last ^ 1)))" >>leaf-badsig.der

cat deep-leaf.pem deep-int1.pem deep-int3.pem deep-int2.pem >chain-wrongorder.pem
echo "this is not a certificate" >badca.pem
rm -rf db
