/* SPDX-License-Identifier: MIT */
/*
 * test_quic.c: QUIC Initial decoding against the RFC 9001 / RFC 9369
 * Appendix A vectors, synthetic reassembly cases (reordering, duplicates,
 * overlaps, truncation, bad keys, coalescing, Retry) built with
 * bw_quic_seal_initial(), and real captures from other analysers' test
 * suites whose SNI must match EXPECTED.tsv.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "../parsers/quic.h"
#include "../parsers/wire.h"

#define PCAP_DIR "/work/shared/pcaps/external"

/* ---- RFC 9001 / RFC 9369 Appendix A ---------------------------------- */

static const char V1_CLIENT_PROT[] =
	"c000000001088394c8f03e5157080000449e7b9aec34d1b1c98dd7689fb8ec11"
	"d242b123dc9bd8bab936b47d92ec356c0bab7df5976d27cd449f63300099f399"
	"1c260ec4c60d17b31f8429157bb35a1282a643a8d2262cad67500cadb8e7378c"
	"8eb7539ec4d4905fed1bee1fc8aafba17c750e2c7ace01e6005f80fcb7df6212"
	"30c83711b39343fa028cea7f7fb5ff89eac2308249a02252155e2347b63d58c5"
	"457afd84d05dfffdb20392844ae812154682e9cf012f9021a6f0be17ddd0c208"
	"4dce25ff9b06cde535d0f920a2db1bf362c23e596d11a4f5a6cf3948838a3aec"
	"4e15daf8500a6ef69ec4e3feb6b1d98e610ac8b7ec3faf6ad760b7bad1db4ba3"
	"485e8a94dc250ae3fdb41ed15fb6a8e5eba0fc3dd60bc8e30c5c4287e53805db"
	"059ae0648db2f64264ed5e39be2e20d82df566da8dd5998ccabdae053060ae6c"
	"7b4378e846d29f37ed7b4ea9ec5d82e7961b7f25a9323851f681d582363aa5f8"
	"9937f5a67258bf63ad6f1a0b1d96dbd4faddfcefc5266ba6611722395c906556"
	"be52afe3f565636ad1b17d508b73d8743eeb524be22b3dcbc2c7468d54119c74"
	"68449a13d8e3b95811a198f3491de3e7fe942b330407abf82a4ed7c1b311663a"
	"c69890f4157015853d91e923037c227a33cdd5ec281ca3f79c44546b9d90ca00"
	"f064c99e3dd97911d39fe9c5d0b23a229a234cb36186c4819e8b9c5927726632"
	"291d6a418211cc2962e20fe47feb3edf330f2c603a9d48c0fcb5699dbfe58964"
	"25c5bac4aee82e57a85aaf4e2513e4f05796b07ba2ee47d80506f8d2c25e50fd"
	"14de71e6c418559302f939b0e1abd576f279c4b2e0feb85c1f28ff18f58891ff"
	"ef132eef2fa09346aee33c28eb130ff28f5b766953334113211996d20011a198"
	"e3fc433f9f2541010ae17c1bf202580f6047472fb36857fe843b19f5984009dd"
	"c324044e847a4f4a0ab34f719595de37252d6235365e9b84392b061085349d73"
	"203a4a13e96f5432ec0fd4a1ee65accdd5e3904df54c1da510b0ff20dcc0c77f"
	"cb2c0e0eb605cb0504db87632cf3d8b4dae6e705769d1de354270123cb11450e"
	"fc60ac47683d7b8d0f811365565fd98c4c8eb936bcab8d069fc33bd801b03ade"
	"a2e1fbc5aa463d08ca19896d2bf59a071b851e6c239052172f296bfb5e724047"
	"90a2181014f3b94a4e97d117b438130368cc39dbb2d198065ae3986547926cd2"
	"162f40a29f0c3c8745c0f50fba3852e566d44575c29d39a03f0cda721984b6f4"
	"40591f355e12d439ff150aab7613499dbd49adabc8676eef023b15b65bfc5ca0"
	"6948109f23f350db82123535eb8a7433bdabcb909271a6ecbcb58b936a88cd4e"
	"8f2e6ff5800175f113253d8fa9ca8885c2f552e657dc603f252e1a8e308f76f0"
	"be79e2fb8f5d5fbbe2e30ecadd220723c8c0aea8078cdfcb3868263ff8f09400"
	"54da48781893a7e49ad5aff4af300cd804a6b6279ab3ff3afb64491c85194aab"
	"760d58a606654f9f4400e8b38591356fbf6425aca26dc85244259ff2b19c41b9"
	"f96f3ca9ec1dde434da7d2d392b905ddf3d1f9af93d1af5950bd493f5aa731b4"
	"056df31bd267b6b90a079831aaf579be0a39013137aac6d404f518cfd4684064"
	"7e78bfe706ca4cf5e9c5453e9f7cfd2b8b4c8d169a44e55c88d4a9a7f9474241"
	"e221af44860018ab0856972e194cd934";

static const char V1_SERVER_PROT[] =
	"cf000000010008f067a5502a4262b5004075c0d95a482cd0991cd25b0aac406a"
	"5816b6394100f37a1c69797554780bb38cc5a99f5ede4cf73c3ec2493a1839b3"
	"dbcba3f6ea46c5b7684df3548e7ddeb9c3bf9c73cc3f3bded74b562bfb19fb84"
	"022f8ef4cdd93795d77d06edbb7aaf2f58891850abbdca3d20398c276456cbc4"
	"2158407dd074ee";

static const char V2_CLIENT_PROT[] =
	"d76b3343cf088394c8f03e5157080000449ea0c95e82ffe67b6abcdb4298b485"
	"dd04de806071bf03dceebfa162e75d6c96058bdbfb127cdfcbf903388e99ad04"
	"9f9a3dd4425ae4d0992cfff18ecf0fdb5a842d09747052f17ac2053d21f57c5d"
	"250f2c4f0e0202b70785b7946e992e58a59ac52dea6774d4f03b55545243cf1a"
	"12834e3f249a78d395e0d18f4d766004f1a2674802a747eaa901c3f10cda5500"
	"cb9122faa9f1df66c392079a1b40f0de1c6054196a11cbea40afb6ef5253cd68"
	"18f6625efce3b6def6ba7e4b37a40f7732e093daa7d52190935b8da58976ff33"
	"12ae50b187c1433c0f028edcc4c2838b6a9bfc226ca4b4530e7a4ccee1bfa2a3"
	"d396ae5a3fb512384b2fdd851f784a65e03f2c4fbe11a53c7777c023462239dd"
	"6f7521a3f6c7d5dd3ec9b3f233773d4b46d23cc375eb198c63301c21801f6520"
	"bcfb7966fc49b393f0061d974a2706df8c4a9449f11d7f3d2dcbb90c6b877045"
	"636e7c0c0fe4eb0f697545460c806910d2c355f1d253bc9d2452aaa549e27a1f"
	"ac7cf4ed77f322e8fa894b6a83810a34b361901751a6f5eb65a0326e07de7c12"
	"16ccce2d0193f958bb3850a833f7ae432b65bc5a53975c155aa4bcb4f7b2c4e5"
	"4df16efaf6ddea94e2c50b4cd1dfe06017e0e9d02900cffe1935e0491d77ffb4"
	"fdf85290fdd893d577b1131a610ef6a5c32b2ee0293617a37cbb08b847741c3b"
	"8017c25ca9052ca1079d8b78aebd47876d330a30f6a8c6d61dd1ab5589329de7"
	"14d19d61370f8149748c72f132f0fc99f34d766c6938597040d8f9e2bb522ff9"
	"9c63a344d6a2ae8aa8e51b7b90a4a806105fcbca31506c446151adfeceb51b91"
	"abfe43960977c87471cf9ad4074d30e10d6a7f03c63bd5d4317f68ff325ba3bd"
	"80bf4dc8b52a0ba031758022eb025cdd770b44d6d6cf0670f4e990b22347a7db"
	"848265e3e5eb72dfe8299ad7481a408322cac55786e52f633b2fb6b614eaed18"
	"d703dd84045a274ae8bfa73379661388d6991fe39b0d93debb41700b41f90a15"
	"c4d526250235ddcd6776fc77bc97e7a417ebcb31600d01e57f32162a8560cacc"
	"7e27a096d37a1a86952ec71bd89a3e9a30a2a26162984d7740f81193e8238e61"
	"f6b5b984d4d3dfa033c1bb7e4f0037febf406d91c0dccf32acf423cfa1e70710"
	"10d3f270121b493ce85054ef58bada42310138fe081adb04e2bd901f2f13458b"
	"3d6758158197107c14ebb193230cd1157380aa79cae1374a7c1e5bbcb80ee23e"
	"06ebfde206bfb0fcbc0edc4ebec309661bdd908d532eb0c6adc38b7ca7331dce"
	"8dfce39ab71e7c32d318d136b6100671a1ae6a6600e3899f31f0eed19e3417d1"
	"34b90c9058f8632c798d4490da4987307cba922d61c39805d072b589bd52fdf1"
	"e86215c2d54e6670e07383a27bbffb5addf47d66aa85a0c6f9f32e59d85a44dd"
	"5d3b22dc2be80919b490437ae4f36a0ae55edf1d0b5cb4e9a3ecabee93dfc6e3"
	"8d209d0fa6536d27a5d6fbb17641cde27525d61093f1b28072d111b2b4ae5f89"
	"d5974ee12e5cf7d5da4d6a31123041f33e61407e76cffcdcfd7e19ba58cf4b53"
	"6f4c4938ae79324dc402894b44faf8afbab35282ab659d13c93f70412e85cb19"
	"9a37ddec600545473cfb5a05e08d0b209973b2172b4d21fb69745a262ccde96b"
	"a18b2faa745b6fe189cf772a9f84cbfc";

static const char V2_SERVER_PROT[] =
	"dc6b3343cf0008f067a5502a4262b5004075d92faaf16f05d8a4398c47089698"
	"baeea26b91eb761d9b89237bbf87263017915358230035f7fd3945d88965cf17"
	"f9af6e16886c61bfc703106fbaf3cb4cfa52382dd16a393e42757507698075b2"
	"c984c707f0a0812d8cd5a6881eaf21ceda98f4bd23f6fe1a3e2c43edd9ce7ca8"
	"4bed8521e2e140";

static const char CRYPTO_FRAME[] =
	"060040f1010000ed0303ebf8fa56f12939b9584a3896472ec40bb863cfd3e868"
	"04fe3a47f06a2b69484c00000413011302010000c000000010000e00000b6578"
	"616d706c652e636f6dff01000100000a00080006001d00170018001000070005"
	"04616c706e000500050100000000003300260024001d00209370b2c9caa47fba"
	"baf4559fedba753de171fa71f50f1ce15d43e994ec74d748002b000302030400"
	"0d0010000e0403050306030203080408050806002d00020101001c0002400100"
	"3900320408ffffffffffffffff05048000ffff07048000ffff08011001048000"
	"75300901100f088394c8f03e51570806048000ffff";

static const char SERVER_PAYLOAD[] =
	"02000000000600405a020000560303eefce7f7b37ba1d1632e96677825ddf739"
	"88cfc79825df566dc5430b9a045a1200130100002e00330024001d00209d3c94"
	"0d89690b84d08a60993c144eca684d1081287c834d5311bcf32bb9da1a002b00"
	"020304";

static const uint8_t RFC_DCID[8] = { 0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08 };
static const uint8_t RFC_SCID[8] = { 0xf0, 0x67, 0xa5, 0x50, 0x2a, 0x42, 0x62, 0xb5 };

static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;
	int hi = -1;
	for (; *s; s++) {
		int v;
		if (*s >= '0' && *s <= '9')
			v = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			v = *s - 'a' + 10;
		else
			continue;
		if (hi < 0) {
			hi = v;
		} else {
			assert_true(n < cap);
			out[n++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	return n;
}

static void assert_hex(const uint8_t *got, size_t n, const char *want_hex)
{
	uint8_t want[64];
	size_t wn = unhex(want_hex, want, sizeof(want));
	assert_int_equal(wn, n);
	assert_memory_equal(got, want, n);
}

struct fixture {
	struct bw_quic_decoder *d;
	struct bw_quic_conn *c;
	struct bw_anomalies an;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->d = bw_quic_decoder_new();
	f->c = malloc(sizeof(*f->c));
	assert_non_null(f->d);
	assert_non_null(f->c);
	bw_quic_conn_init(f->c);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	bw_quic_conn_deinit(f->c);
	free(f->c);
	bw_quic_decoder_free(f->d);
	free(f);
	return 0;
}

static void reset(struct fixture *f)
{
	bw_quic_conn_init(f->c);
	memset(&f->an, 0, sizeof(f->an));
}

/* The A.2 payload: the CRYPTO frame, then PADDING to 1162 bytes. */
static size_t rfc_client_payload(uint8_t *out)
{
	memset(out, 0, 1162);
	size_t n = unhex(CRYPTO_FRAME, out, 1162);
	assert_int_equal(n, 245);
	return 1162;
}

static void check_keys(struct fixture *f, uint32_t version, const char *cs, const char *ck,
		       const char *civ, const char *chp, const char *ss, const char *sk,
		       const char *siv, const char *shp)
{
	struct bw_quic_keys c, s;
	assert_int_equal(bw_quic_derive_initial(f->d, version, RFC_DCID, 8, &c, &s), BW_OK);
	assert_hex(c.secret, 32, cs);
	assert_hex(c.key, 16, ck);
	assert_hex(c.iv, 12, civ);
	assert_hex(c.hp, 16, chp);
	assert_hex(s.secret, 32, ss);
	assert_hex(s.key, 16, sk);
	assert_hex(s.iv, 12, siv);
	assert_hex(s.hp, 16, shp);
}

static void test_rfc9001_keys(void **state)
{
	check_keys(*state, BW_QUIC_V1,
		   "c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea",
		   "1f369613dd76d5467730efcbe3b1a22d", "fa044b2f42a3fd3b46fb255c",
		   "9f50449e04a0e810283a1e9933adedd2",
		   "3c199828fd139efd216c155ad844cc81fb82fa8d7446fa7d78be803acdda951b",
		   "cf3a5331653c364c88f0f379b6067e37", "0ac1493ca1905853b0bba03e",
		   "c206b8d9b9f0f37644430b490eeaa314");
}

static void test_rfc9369_keys(void **state)
{
	check_keys(*state, BW_QUIC_V2,
		   "14ec9d6eb9fd7af83bf5a668bc17a7e283766aade7ecd0891f70f9ff7f4bf47b",
		   "8b1a0bc121284290a29e0971b5cd045d", "91f73e2351d8fa91660e909f",
		   "45b95e15235d6f45a6b19cbcb0294ba9",
		   "0263db1782731bf4588e7e4d93b7463907cb8cd8200b5da55a8bd488eafc37c1",
		   "82db637861d55e1d011f19ea71d5d2a7", "dd13c276499c0249d3310652",
		   "edf6d05c83121201b436e16877593c3a");
}

static void test_derive_errors(void **state)
{
	struct fixture *f = *state;
	struct bw_quic_keys k;
	uint8_t big[21] = { 0 };
	assert_int_equal(bw_quic_derive_initial(f->d, 0x12345678, RFC_DCID, 8, &k, NULL), BW_ENOTSUP);
	assert_int_equal(bw_quic_derive_initial(f->d, BW_QUIC_V1, big, 21, &k, NULL), BW_EINVAL);
	assert_int_equal(bw_quic_derive_initial(NULL, BW_QUIC_V1, RFC_DCID, 8, &k, NULL), BW_EINVAL);
	/* An empty DCID is legal input to HKDF-Extract. */
	assert_int_equal(bw_quic_derive_initial(f->d, BW_QUIC_V1, NULL, 0, &k, &k), BW_OK);
}

/* Seal the A.2 payload, compare with the RFC's bytes, then decode the RFC's bytes. */
static void check_client_initial(struct fixture *f, uint32_t version, const char *prot_hex)
{
	uint8_t payload[1162], want[1200], got[1300];
	size_t got_len = 0;
	rfc_client_payload(payload);
	assert_int_equal(unhex(prot_hex, want, sizeof(want)), 1200);
	struct bw_quic_seal s = {
		.version = version, .key_dcid = RFC_DCID, .key_dcid_len = 8,
		.dcid = RFC_DCID, .dcid_len = 8, .pn = 2, .pn_len = 4,
		.payload = payload, .payload_len = sizeof(payload),
	};
	assert_int_equal(bw_quic_seal_initial(f->d, &s, got, sizeof(got), &got_len), BW_OK);
	assert_int_equal(got_len, 1200);
	assert_memory_equal(got, want, 1200);

	reset(f);
	assert_true(bw_quic_looks_like_initial(want, sizeof(want)));
	assert_int_equal(bw_quic_feed(f->d, f->c, true, want, sizeof(want), &f->an), BW_OK);
	size_t len = 0;
	const uint8_t *ch = bw_quic_client_hello(f->c, &len);
	assert_non_null(ch);
	assert_int_equal(len, 241);
	assert_memory_equal(ch, payload + 4, 241); /* the frame's data: 06 00 40f1 <data> */
	assert_int_equal(bw_quic_version(f->c), version);
	assert_int_equal(f->c->decrypted[0], 1);
	assert_int_equal(f->c->largest_pn[0], 2);
	assert_int_equal(f->an.n[BW_AN_QUIC_BAD], 0);
	char hex[41];
	assert_int_equal(bw_quic_dcid_hex(f->c, hex, sizeof(hex)), 16);
	assert_string_equal(hex, "8394c8f03e515708");
	assert_int_equal(bw_quic_scid_hex(f->c, hex, sizeof(hex)), 0);
	assert_string_equal(hex, "");
}

static void check_server_initial(struct fixture *f, uint32_t version, const char *client_hex,
				 const char *prot_hex)
{
	uint8_t payload[99], want[135], got[200], client[1200];
	size_t got_len = 0;
	assert_int_equal(unhex(SERVER_PAYLOAD, payload, sizeof(payload)), 99);
	assert_int_equal(unhex(prot_hex, want, sizeof(want)), 135);
	struct bw_quic_seal s = {
		.version = version, .from_server = true, .key_dcid = RFC_DCID, .key_dcid_len = 8,
		.scid = RFC_SCID, .scid_len = 8, .pn = 1, .pn_len = 2,
		.payload = payload, .payload_len = sizeof(payload),
	};
	assert_int_equal(bw_quic_seal_initial(f->d, &s, got, sizeof(got), &got_len), BW_OK);
	assert_int_equal(got_len, 135);
	assert_memory_equal(got, want, 135);

	reset(f);
	/* Server keys need the client's DCID: before the client, nothing to decrypt with. */
	assert_int_equal(bw_quic_feed(f->d, f->c, false, want, sizeof(want), &f->an), BW_ENOTSUP);
	assert_null(bw_quic_server_hello(f->c, NULL));
	assert_int_equal(unhex(client_hex, client, sizeof(client)), 1200);
	assert_int_equal(bw_quic_feed(f->d, f->c, true, client, sizeof(client), &f->an), BW_OK);
	assert_true(bw_quic_looks_like_initial(want, sizeof(want)));
	assert_int_equal(bw_quic_feed(f->d, f->c, false, want, sizeof(want), &f->an), BW_OK);
	size_t len = 0;
	const uint8_t *sh = bw_quic_server_hello(f->c, &len);
	assert_non_null(sh);
	assert_int_equal(len, 90);
	assert_memory_equal(sh, payload + 9, 90); /* after ACK (5 bytes) and 06 00 405a */
	assert_int_equal(f->c->server_version, version);
	assert_int_equal(f->c->largest_pn[1], 1);
	assert_true(bw_quic_conn_done(f->c));
	assert_int_equal(f->an.n[BW_AN_QUIC_BAD], 0);
}

static void test_rfc9001_client_initial(void **state)
{
	check_client_initial(*state, BW_QUIC_V1, V1_CLIENT_PROT);
}

static void test_rfc9001_server_initial(void **state)
{
	check_server_initial(*state, BW_QUIC_V1, V1_CLIENT_PROT, V1_SERVER_PROT);
}

static void test_rfc9369_client_initial(void **state)
{
	check_client_initial(*state, BW_QUIC_V2, V2_CLIENT_PROT);
}

static void test_rfc9369_server_initial(void **state)
{
	check_server_initial(*state, BW_QUIC_V2, V2_CLIENT_PROT, V2_SERVER_PROT);
}

/* A.4: a Retry is verified with the client's original DCID, then rekeys the flow. */
static void check_retry(struct fixture *f, const char *client_hex, const char *retry_hex)
{
	uint8_t client[1200], retry[64];
	size_t rn = unhex(retry_hex, retry, sizeof(retry));
	assert_int_equal(rn, 36);
	unhex(client_hex, client, sizeof(client));

	/* Corrupted tag: ignored and counted. */
	reset(f);
	assert_int_equal(bw_quic_feed(f->d, f->c, true, client, sizeof(client), &f->an), BW_OK);
	retry[rn - 1] ^= 1;
	assert_int_equal(bw_quic_feed(f->d, f->c, false, retry, rn, &f->an), BW_EMALF);
	assert_false(bw_quic_retry_seen(f->c));
	assert_int_equal(f->an.n[BW_AN_QUIC_BAD], 1);
	retry[rn - 1] ^= 1;

	/* Valid: noted, and the keys now come from the Retry's SCID. */
	assert_false(bw_quic_looks_like_initial(retry, rn));
	assert_int_equal(bw_quic_feed(f->d, f->c, false, retry, rn, &f->an), BW_OK);
	assert_true(bw_quic_retry_seen(f->c));
	assert_int_equal(f->c->key_dcid_len, 8);
	assert_memory_equal(f->c->key_dcid, RFC_SCID, 8);
	assert_int_equal(f->c->retry_scid_len, 8);
	char hex[41];
	bw_quic_dcid_hex(f->c, hex, sizeof(hex));
	assert_string_equal(hex, "8394c8f03e515708"); /* still the first Initial's DCID */

	/* A Retry in another version than the client's is ignored (RFC 9369 4.1). */
	reset(f);
	assert_int_equal(bw_quic_feed(f->d, f->c, true, client, sizeof(client), &f->an), BW_OK);
	uint8_t other[64];
	memcpy(other, retry, rn);
	other[1] = other[1] == 0 ? 0xff : 0;
	other[4] = 0x1d; /* 0xff00001d or 0x0033431d */
	int want = bw_quic_version(f->c) == BW_QUIC_V1 ? BW_OK : BW_ENOTSUP;
	assert_int_equal(bw_quic_feed(f->d, f->c, false, other, rn, &f->an), want);
	assert_false(bw_quic_retry_seen(f->c));

	/* A Retry before any client Initial cannot be verified: ignored. */
	reset(f);
	assert_int_equal(bw_quic_feed(f->d, f->c, false, retry, rn, &f->an), BW_OK);
	assert_false(bw_quic_retry_seen(f->c));
	/* Client-side Retry packets are nonsense: ignored. */
	assert_int_equal(bw_quic_feed(f->d, f->c, true, client, sizeof(client), &f->an), BW_OK);
	assert_int_equal(bw_quic_feed(f->d, f->c, true, retry, rn, &f->an), BW_OK);
	assert_false(bw_quic_retry_seen(f->c));
}

static void test_rfc9001_retry(void **state)
{
	check_retry(*state, V1_CLIENT_PROT,
		    "ff000000010008f067a5502a4262b5746f6b656e04a265ba2eff4d829058fb3f0f2496ba");
}

static void test_rfc9369_retry(void **state)
{
	check_retry(*state, V2_CLIENT_PROT,
		    "cf6b3343cf0008f067a5502a4262b5746f6b656ec8646ce8bfe33952d955543665dcc7b6");
}

/* ---- synthetic packets ------------------------------------------------- */

/* A ClientHello with an SNI extension and a padding extension of pad bytes. */
static size_t build_client_hello(uint8_t *out, size_t cap, const char *sni, size_t pad)
{
	size_t sl = strlen(sni), n = 0;
	size_t ext = 4 + 2 + 1 + 2 + sl + 4 + pad;
	size_t body = 2 + 32 + 1 + 2 + 2 + 1 + 1 + 2 + ext;
	assert_true(4 + body <= cap);
	out[n++] = 1;
	out[n++] = (uint8_t)(body >> 16);
	out[n++] = (uint8_t)(body >> 8);
	out[n++] = (uint8_t)body;
	out[n++] = 3;
	out[n++] = 3;
	for (int i = 0; i < 32; i++)
		out[n++] = (uint8_t)(i * 7);
	out[n++] = 0;            /* session id */
	out[n++] = 0;
	out[n++] = 2;
	out[n++] = 0x13;
	out[n++] = 0x01;         /* TLS_AES_128_GCM_SHA256 */
	out[n++] = 1;
	out[n++] = 0;            /* null compression */
	out[n++] = (uint8_t)(ext >> 8);
	out[n++] = (uint8_t)ext;
	out[n++] = 0;
	out[n++] = 0;            /* server_name */
	out[n++] = (uint8_t)((sl + 5) >> 8);
	out[n++] = (uint8_t)(sl + 5);
	out[n++] = (uint8_t)((sl + 3) >> 8);
	out[n++] = (uint8_t)(sl + 3);
	out[n++] = 0;            /* host_name */
	out[n++] = (uint8_t)(sl >> 8);
	out[n++] = (uint8_t)sl;
	memcpy(out + n, sni, sl);
	n += sl;
	out[n++] = 0;
	out[n++] = 21;           /* padding */
	out[n++] = (uint8_t)(pad >> 8);
	out[n++] = (uint8_t)pad;
	memset(out + n, 0, pad);
	n += pad;
	assert_int_equal(n, 4 + body);
	return n;
}

/* Find the SNI host name in a ClientHello handshake message; false if none. */
static bool client_hello_sni(const uint8_t *ch, size_t len, char *out, size_t cap)
{
	struct bw_wire w, ext;
	bw_wire_init(&w, ch, len);
	if (bw_wire_u8(&w) != 1)
		return false;
	bw_wire_skip(&w, 3 + 2 + 32);
	bw_wire_skip(&w, bw_wire_u8(&w));
	bw_wire_skip(&w, bw_wire_u16(&w));
	bw_wire_skip(&w, bw_wire_u8(&w));
	bw_wire_sub(&w, bw_wire_u16(&w), &ext);
	while (bw_wire_ok(&ext) && bw_wire_left(&ext) >= 4) {
		uint16_t type = bw_wire_u16(&ext);
		struct bw_wire e;
		bw_wire_sub(&ext, bw_wire_u16(&ext), &e);
		if (type != 0)
			continue;
		bw_wire_skip(&e, 2);
		if (bw_wire_u8(&e) != 0)
			return false;
		uint16_t nl = bw_wire_u16(&e);
		const uint8_t *name = bw_wire_ptr(&e, nl);
		if (!name || nl >= cap)
			return false;
		memcpy(out, name, nl);
		out[nl] = '\0';
		return true;
	}
	return false;
}

/* Type of the extension at index idx of a ClientHello or ServerHello; -1 if none. */
static int hello_ext_at(const uint8_t *m, size_t len, size_t idx)
{
	struct bw_wire w, ext;
	bw_wire_init(&w, m, len);
	uint8_t type = bw_wire_u8(&w);
	bw_wire_skip(&w, 3 + 2 + 32);
	bw_wire_skip(&w, bw_wire_u8(&w));
	if (type == 1) {
		bw_wire_skip(&w, bw_wire_u16(&w));
		bw_wire_skip(&w, bw_wire_u8(&w));
	} else {
		bw_wire_skip(&w, 3); /* cipher suite, compression */
	}
	bw_wire_sub(&w, bw_wire_u16(&w), &ext);
	for (size_t i = 0; bw_wire_ok(&ext) && bw_wire_left(&ext) >= 4; i++) {
		uint16_t t = bw_wire_u16(&ext);
		bw_wire_skip(&ext, bw_wire_u16(&ext));
		if (i == idx && bw_wire_ok(&ext))
			return t;
	}
	return -1;
}

static size_t put_crypto(uint8_t *out, uint64_t off, const uint8_t *data, size_t len)
{
	size_t n = 0;
	out[n++] = 0x06;
	out[n++] = (uint8_t)(0x80 | (off >> 24));
	out[n++] = (uint8_t)(off >> 16);
	out[n++] = (uint8_t)(off >> 8);
	out[n++] = (uint8_t)off;
	out[n++] = (uint8_t)(0x40 | (len >> 8));
	out[n++] = (uint8_t)len;
	memcpy(out + n, data, len);
	return n + len;
}

static const uint8_t DCID2[10] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
static const uint8_t SCID2[4] = { 0xaa, 0xbb, 0xcc, 0xdd };

/* Seal frames as a client (or server) Initial keyed on DCID2, padded to 1200 bytes. */
static size_t seal(struct fixture *f, uint32_t version, bool from_server, uint64_t pn,
		   unsigned pn_len, const uint8_t *frames, size_t n, uint8_t *out, size_t cap)
{
	uint8_t payload[2000];
	assert_true(n <= sizeof(payload));
	memcpy(payload, frames, n);
	size_t plen = n;
	if (!from_server && plen < 1140) {
		memset(payload + plen, 0, 1140 - plen);
		plen = 1140;
	}
	struct bw_quic_seal s = {
		.version = version, .from_server = from_server, .key_dcid = DCID2, .key_dcid_len = 10,
		.dcid = from_server ? SCID2 : DCID2, .dcid_len = from_server ? 4 : 10,
		.scid = from_server ? DCID2 : SCID2, .scid_len = from_server ? 10 : 4,
		.pn = pn, .pn_len = pn_len, .payload = payload, .payload_len = plen,
	};
	size_t len = 0;
	assert_int_equal(bw_quic_seal_initial(f->d, &s, out, cap, &len), BW_OK);
	return len;
}

static void test_split_reverse_order(void **state)
{
	struct fixture *f = *state;
	uint8_t ch[3000], frames[2000], p1[1500], p2[1500];
	size_t chl = build_client_hello(ch, sizeof(ch), "split.example.org", 1800);
	size_t cut = 1000;
	size_t n1 = seal(f, BW_QUIC_V1, false, 0, 1, frames, put_crypto(frames, 0, ch, cut), p1,
			 sizeof(p1));
	size_t n2 = seal(f, BW_QUIC_V1, false, 1, 1, frames,
			 put_crypto(frames, cut, ch + cut, chl - cut), p2, sizeof(p2));

	reset(f);
	assert_int_equal(bw_quic_feed(f->d, f->c, true, p2, n2, &f->an), BW_OK);
	assert_null(bw_quic_client_hello(f->c, NULL));
	assert_int_equal(f->c->client.contig, 0);
	assert_int_equal(f->c->client.hi, chl);
	assert_int_equal(bw_quic_feed(f->d, f->c, true, p1, n1, &f->an), BW_OK);
	size_t len = 0;
	const uint8_t *got = bw_quic_client_hello(f->c, &len);
	assert_non_null(got);
	assert_int_equal(len, chl);
	assert_memory_equal(got, ch, chl);
	char sni[256];
	assert_true(client_hello_sni(got, len, sni, sizeof(sni)));
	assert_string_equal(sni, "split.example.org");
	assert_int_equal(f->an.n[BW_AN_QUIC_BAD], 0);
	/* Once complete, more client packets are not decrypted. */
	assert_int_equal(bw_quic_feed(f->d, f->c, true, p2, n2, &f->an), BW_OK);
	assert_int_equal(f->c->decrypted[0], 2);
}

static void test_out_of_order_in_one_packet(void **state)
{
	struct fixture *f = *state;
	uint8_t ch[1200], frames[1500], p[1500];
	size_t chl = build_client_hello(ch, sizeof(ch), "ooo.example", 600);
	/* Four pieces in the order 3, 1, PING, 0, 2 with PADDING between. */
	size_t q = chl / 4, n = 0;
	n += put_crypto(frames + n, 3 * q, ch + 3 * q, chl - 3 * q);
	n += put_crypto(frames + n, q, ch + q, q);
	frames[n++] = 0x01;
	frames[n++] = 0x00;
	frames[n++] = 0x00;
	n += put_crypto(frames + n, 0, ch, q);
	n += put_crypto(frames + n, 2 * q, ch + 2 * q, q);
	size_t pl = seal(f, BW_QUIC_V1, false, 0, 2, frames, n, p, sizeof(p));
	reset(f);
	assert_int_equal(bw_quic_feed(f->d, f->c, true, p, pl, &f->an), BW_OK);
	size_t len = 0;
	const uint8_t *got = bw_quic_client_hello(f->c, &len);
	assert_non_null(got);
	assert_int_equal(len, chl);
	assert_memory_equal(got, ch, chl);
}

static void test_duplicate_and_overlap(void **state)
{
	struct fixture *f = *state;
	uint8_t ch[1000], bad[1000], frames[2000], p[2000];
	size_t chl = build_client_hello(ch, sizeof(ch), "dup.example", 300);
	memcpy(bad, ch, chl);
	for (size_t i = 100; i < 200; i++)
		bad[i] ^= 0xff;
	size_t n = 0;
	/* The same first half twice, then an overlapping different copy, then the rest. */
	n += put_crypto(frames + n, 0, ch, 200);
	n += put_crypto(frames + n, 0, ch, 200);
	n += put_crypto(frames + n, 100, bad + 100, 150);
	n += put_crypto(frames + n, 150, ch + 150, chl - 150);
	size_t pl = seal(f, BW_QUIC_V1, false, 0, 1, frames, n, p, sizeof(p));
	reset(f);
	assert_int_equal(bw_quic_feed(f->d, f->c, true, p, pl, &f->an), BW_OK);
	size_t len = 0;
	const uint8_t *got = bw_quic_client_hello(f->c, &len);
	assert_non_null(got);
	assert_int_equal(len, chl);
	assert_memory_equal(got, ch, chl); /* first copy of each byte wins */
	assert_int_equal(f->c->client.conflicts, 100);

	/* A whole retransmitted packet (same pn) before completion is harmless too. */
	reset(f);
	size_t half = seal(f, BW_QUIC_V1, false, 0, 1, frames, put_crypto(frames, 0, ch, 200), p,
			   sizeof(p));
	assert_int_equal(bw_quic_feed(f->d, f->c, true, p, half, &f->an), BW_OK);
	assert_int_equal(bw_quic_feed(f->d, f->c, true, p, half, &f->an), BW_OK);
	assert_int_equal(f->c->client.contig, 200);
	assert_int_equal(f->c->client.conflicts, 0);
	assert_null(bw_quic_client_hello(f->c, NULL));
}

static void test_truncated_every_length(void **state)
{
	struct fixture *f = *state;
	uint8_t full[1200], srv[135];
	unhex(V1_CLIENT_PROT, full, sizeof(full));
	unhex(V1_SERVER_PROT, srv, sizeof(srv));
	for (size_t l = 0; l <= sizeof(full); l++) {
		uint8_t *p = malloc(l ? l : 1); /* exact size, so ASan sees any overread */
		assert_non_null(p);
		memcpy(p, full, l);
		reset(f);
		int rc = bw_quic_feed(f->d, f->c, true, p, l, &f->an);
		if (l == sizeof(full)) {
			assert_int_equal(rc, BW_OK);
			assert_non_null(bw_quic_client_hello(f->c, NULL));
		} else {
			assert_true(rc == BW_ETRUNC || rc == BW_EMALF || (l == 0 && rc == BW_OK));
			assert_null(bw_quic_client_hello(f->c, NULL));
			assert_int_equal(f->an.n[BW_AN_QUIC_BAD], l == 0 ? 0 : 1);
		}
		(void)bw_quic_looks_like_initial(p, l);
		free(p);
	}
	/* The server packet too, after a good client packet. */
	for (size_t l = 0; l < sizeof(srv); l++) {
		uint8_t *p = malloc(l ? l : 1);
		assert_non_null(p);
		memcpy(p, srv, l);
		reset(f);
		assert_int_equal(bw_quic_feed(f->d, f->c, true, full, sizeof(full), &f->an), BW_OK);
		int rc = bw_quic_feed(f->d, f->c, false, p, l, &f->an);
		assert_true(rc == BW_ETRUNC || rc == BW_EMALF || (l == 0 && rc == BW_OK));
		assert_null(bw_quic_server_hello(f->c, NULL));
		free(p);
	}
}

static void test_wrong_dcid(void **state)
{
	struct fixture *f = *state;
	uint8_t payload[1162], p[1300];
	size_t n = 0;
	rfc_client_payload(payload);
	static const uint8_t other[8] = { 0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x09 };
	/* Keys from one DCID, header carrying another: nothing can open it. */
	struct bw_quic_seal s = {
		.version = BW_QUIC_V1, .key_dcid = other, .key_dcid_len = 8, .dcid = RFC_DCID,
		.dcid_len = 8, .pn = 2, .pn_len = 4, .payload = payload, .payload_len = 1162,
	};
	assert_int_equal(bw_quic_seal_initial(f->d, &s, p, sizeof(p), &n), BW_OK);
	reset(f);
	assert_true(bw_quic_looks_like_initial(p, n));
	assert_int_equal(bw_quic_feed(f->d, f->c, true, p, n, &f->an), BW_EMALF);
	assert_null(bw_quic_client_hello(f->c, NULL));
	assert_int_equal(f->c->failed[0], 1);
	assert_int_equal(f->c->decrypted[0], 0);
	assert_int_equal(f->an.n[BW_AN_QUIC_BAD], 1);
	assert_int_equal(f->c->largest_pn[0], -1);
	assert_false(f->c->have_client); /* a packet that does not open cannot claim the flow */

	/* The genuine Initial after it still binds the flow, with its own DCID. */
	uint8_t good[1200];
	unhex(V1_CLIENT_PROT, good, sizeof(good));
	assert_int_equal(bw_quic_feed(f->d, f->c, true, good, sizeof(good), &f->an), BW_OK);
	assert_non_null(bw_quic_client_hello(f->c, NULL));
	char hex[41];
	bw_quic_dcid_hex(f->c, hex, sizeof(hex));
	assert_string_equal(hex, "8394c8f03e515708");
}

static void test_corrupted_tag(void **state)
{
	struct fixture *f = *state;
	uint8_t p[1200];
	unhex(V1_CLIENT_PROT, p, sizeof(p));
	size_t where[] = { 1199, 1190, 600, 30, 22, 4 }; /* tag, ciphertext, sample, version */
	for (size_t i = 0; i < BW_ARRAY_SIZE(where); i++) {
		p[where[i]] ^= 0x10;
		reset(f);
		int rc = bw_quic_feed(f->d, f->c, true, p, sizeof(p), &f->an);
		if (where[i] == 4) {
			assert_int_equal(rc, BW_ENOTSUP); /* version 0x00000011: not ours, not counted */
			assert_int_equal(f->an.n[BW_AN_QUIC_BAD], 0);
		} else {
			assert_int_equal(rc, BW_EMALF);
			assert_int_equal(f->an.n[BW_AN_QUIC_BAD], 1);
		}
		assert_null(bw_quic_client_hello(f->c, NULL));
		p[where[i]] ^= 0x10;
	}
	reset(f);
	assert_int_equal(bw_quic_feed(f->d, f->c, true, p, sizeof(p), &f->an), BW_OK);
}

/* A long-header packet of another type with a Length, for coalescing. */
static size_t fake_long(uint8_t *out, uint8_t type_bits, uint32_t version, size_t body)
{
	size_t n = 0;
	out[n++] = (uint8_t)(0xc0 | type_bits << 4);
	out[n++] = (uint8_t)(version >> 24);
	out[n++] = (uint8_t)(version >> 16);
	out[n++] = (uint8_t)(version >> 8);
	out[n++] = (uint8_t)version;
	out[n++] = 4;
	memcpy(out + n, SCID2, 4);
	n += 4;
	out[n++] = 10;
	memcpy(out + n, DCID2, 10);
	n += 10;
	if (version == BW_QUIC_V1 && type_bits == 0)
		out[n++] = 0; /* an Initial's token length */
	out[n++] = (uint8_t)(0x40 | body >> 8);
	out[n++] = (uint8_t)body;
	memset(out + n, 0x5a, body);
	return n + body;
}

static void test_coalesced(void **state)
{
	struct fixture *f = *state;
	uint8_t ch[600], sh[100], frames[1500], cpkt[1500], dgram[3000];
	size_t chl = build_client_hello(ch, sizeof(ch), "coalesce.example", 100);
	size_t cl = seal(f, BW_QUIC_V1, false, 0, 1, frames, put_crypto(frames, 0, ch, chl), cpkt,
			 sizeof(cpkt));
	/* Server: Initial (ServerHello) + Handshake + Handshake + a short-header packet. */
	size_t shl = 0;
	sh[shl++] = 2;
	sh[shl++] = 0;
	sh[shl++] = 0;
	sh[shl++] = 40;
	memset(sh + shl, 0x33, 40);
	shl += 40;
	size_t n = 0;
	frames[0] = 0x02; /* ACK largest 0, delay 0, 0 ranges, first 0 */
	frames[1] = frames[2] = frames[3] = frames[4] = 0;
	size_t fl = 5 + put_crypto(frames + 5, 0, sh, shl);
	n += seal(f, BW_QUIC_V1, true, 0, 1, frames, fl, dgram, sizeof(dgram));
	n += fake_long(dgram + n, 2, BW_QUIC_V1, 300);
	n += fake_long(dgram + n, 2, BW_QUIC_V1, 20);
	dgram[n++] = 0x40;
	memset(dgram + n, 0x77, 30);
	n += 30;

	reset(f);
	assert_int_equal(bw_quic_feed(f->d, f->c, true, cpkt, cl, &f->an), BW_OK);
	assert_int_equal(bw_quic_feed(f->d, f->c, false, dgram, n, &f->an), BW_OK);
	size_t len = 0;
	assert_non_null(bw_quic_server_hello(f->c, &len));
	assert_int_equal(len, shl);

	/* Handshake first, then the Initial: both walked. */
	uint8_t d2[3000];
	size_t m = fake_long(d2, 2, BW_QUIC_V1, 50);
	m += seal(f, BW_QUIC_V1, true, 0, 1, frames, fl, d2 + m, sizeof(d2) - m);
	reset(f);
	assert_int_equal(bw_quic_feed(f->d, f->c, true, cpkt, cl, &f->an), BW_OK);
	assert_int_equal(bw_quic_feed(f->d, f->c, false, d2, m, &f->an), BW_OK);
	assert_non_null(bw_quic_server_hello(f->c, NULL));

	/* Client: Initial + 0-RTT in one datagram. */
	memcpy(d2, cpkt, cl);
	m = cl + fake_long(d2 + cl, 1, BW_QUIC_V1, 100);
	reset(f);
	assert_int_equal(bw_quic_feed(f->d, f->c, true, d2, m, &f->an), BW_OK);
	assert_non_null(bw_quic_client_hello(f->c, NULL));

	/* Trailing bytes that look like a long header of an unknown version: ignored. */
	memcpy(d2, cpkt, cl);
	m = cl + fake_long(d2 + cl, 2, 0x0a0a0a0a, 10);
	reset(f);
	assert_int_equal(bw_quic_feed(f->d, f->c, true, d2, m, &f->an), BW_OK);
	assert_non_null(bw_quic_client_hello(f->c, NULL));
	assert_int_equal(f->an.n[BW_AN_QUIC_BAD], 0);

	/* A coalesced packet whose Length runs past the datagram: truncated, counted. */
	m = fake_long(d2, 2, BW_QUIC_V1, 100) - 1;
	reset(f);
	assert_int_equal(bw_quic_feed(f->d, f->c, true, d2, m, &f->an), BW_ETRUNC);
	assert_int_equal(f->an.n[BW_AN_QUIC_BAD], 1);

	/* v2 numbers its types differently: Handshake is 0b11, Initial 0b01. */
	uint8_t v2[3000];
	size_t hs = fake_long(v2, 3, BW_QUIC_V2, 40), v2l = hs;
	v2l += seal(f, BW_QUIC_V2, false, 0, 1, frames, put_crypto(frames, 0, ch, chl), v2 + v2l,
		    sizeof(v2) - v2l);
	reset(f);
	assert_false(bw_quic_looks_like_initial(v2, v2l));
	assert_true(bw_quic_looks_like_initial(v2 + hs, v2l - hs));
	assert_int_equal(bw_quic_feed(f->d, f->c, true, v2, v2l, &f->an), BW_OK);
	assert_non_null(bw_quic_client_hello(f->c, NULL));
	assert_int_equal(bw_quic_version(f->c), BW_QUIC_V2);
}

static void test_looks_like_initial(void **state)
{
	(void)state;
	uint8_t p[1200], h[100];
	unhex(V1_CLIENT_PROT, p, sizeof(p));
	assert_true(bw_quic_looks_like_initial(p, sizeof(p)));
	assert_false(bw_quic_looks_like_initial(p, 1199)); /* Length runs past the end */
	assert_false(bw_quic_looks_like_initial(p, 0));
	assert_false(bw_quic_looks_like_initial(NULL, 0));
	p[0] &= 0xbf; /* fixed bit clear */
	assert_false(bw_quic_looks_like_initial(p, sizeof(p)));
	p[0] |= 0x40;
	p[0] ^= 0x80; /* short header */
	assert_false(bw_quic_looks_like_initial(p, sizeof(p)));
	p[0] ^= 0x80;
	p[4] = 0x02; /* version 0x00000002: unknown */
	assert_false(bw_quic_looks_like_initial(p, sizeof(p)));
	p[1] = 0xff;
	p[4] = 0x1d; /* draft-29 */
	assert_true(bw_quic_looks_like_initial(p, sizeof(p)));
	p[1] = 0;
	p[4] = 1;
	p[5] = 21; /* DCID too long for v1 */
	assert_false(bw_quic_looks_like_initial(p, sizeof(p)));
	assert_false(bw_quic_looks_like_initial(h, fake_long(h, 2, BW_QUIC_V1, 30)));
	assert_false(bw_quic_looks_like_initial(h, fake_long(h, 0, BW_QUIC_V1, 19)));
	assert_true(bw_quic_looks_like_initial(h, fake_long(h, 0, BW_QUIC_V1, 20)));
}

static void test_bad_frame_keeps_data(void **state)
{
	struct fixture *f = *state;
	uint8_t ch[600], frames[1500], p[1500];
	size_t chl = build_client_hello(ch, sizeof(ch), "stream.example", 100);
	size_t n = put_crypto(frames, 0, ch, chl);
	frames[n++] = 0x08; /* STREAM: not allowed in an Initial */
	frames[n++] = 0x00;
	size_t pl = seal(f, BW_QUIC_V1, false, 0, 1, frames, n, p, sizeof(p));
	reset(f);
	assert_int_equal(bw_quic_feed(f->d, f->c, true, p, pl, &f->an), BW_EMALF);
	assert_int_equal(f->an.n[BW_AN_QUIC_BAD], 1);
	assert_non_null(bw_quic_client_hello(f->c, NULL));

	/* A CRYPTO frame whose length runs past the packet. */
	n = put_crypto(frames, 0, ch, 100);
	frames[6] = 0xff;
	frames[5] = 0x7f;
	pl = seal(f, BW_QUIC_V1, false, 0, 1, frames, 200, p, sizeof(p));
	reset(f);
	assert_int_equal(bw_quic_feed(f->d, f->c, true, p, pl, &f->an), BW_EMALF);
	assert_int_equal(f->c->client.hi, 0);

	/* A CRYPTO offset beyond 2^62. */
	uint8_t big[] = { 0x06, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00 };
	pl = seal(f, BW_QUIC_V1, false, 0, 1, big, sizeof(big), p, sizeof(p));
	reset(f);
	assert_int_equal(bw_quic_feed(f->d, f->c, true, p, pl, &f->an), BW_EMALF);

	/* An ACK claiming more ranges than bytes. */
	uint8_t ack[] = { 0x02, 0x00, 0x00, 0x7f, 0xff, 0x00, 0x00 };
	uint8_t cp[1500];
	size_t cl = seal(f, BW_QUIC_V1, false, 0, 1, frames, put_crypto(frames, 0, ch, 10), cp,
			 sizeof(cp));
	pl = seal(f, BW_QUIC_V1, true, 0, 1, ack, sizeof(ack), p, sizeof(p));
	reset(f);
	assert_int_equal(bw_quic_feed(f->d, f->c, true, cp, cl, &f->an), BW_OK);
	assert_int_equal(bw_quic_feed(f->d, f->c, false, p, pl, &f->an), BW_EMALF);
	assert_int_equal(f->c->decrypted[1], 1);
}

static void test_frames_ack_ecn_close(void **state)
{
	struct fixture *f = *state;
	uint8_t ch[600], frames[1500], p[1500];
	size_t chl = build_client_hello(ch, sizeof(ch), "frames.example", 100);
	size_t n = 0;
	/* ACK_ECN: largest 5, delay 2, 2 ranges, first 1, (gap 0, len 0) x2, ECN 1 2 3. */
	uint8_t ack[] = { 0x03, 5, 2, 2, 1, 0, 0, 0, 0, 1, 2, 3 };
	memcpy(frames + n, ack, sizeof(ack));
	n += sizeof(ack);
	frames[n++] = 0x01;
	n += put_crypto(frames + n, 0, ch, chl);
	/* CONNECTION_CLOSE: error 0x0a (PROTOCOL_VIOLATION), frame 6, reason "bye". */
	uint8_t cc[] = { 0x1c, 0x0a, 0x06, 3, 'b', 'y', 'e' };
	memcpy(frames + n, cc, sizeof(cc));
	n += sizeof(cc);
	/* A frame type in a 2-byte varint encoding (0x4001 = PING). */
	frames[n++] = 0x40;
	frames[n++] = 0x01;
	size_t pl = seal(f, BW_QUIC_V1, false, 0, 1, frames, n, p, sizeof(p));
	reset(f);
	assert_int_equal(bw_quic_feed(f->d, f->c, true, p, pl, &f->an), BW_OK);
	assert_non_null(bw_quic_client_hello(f->c, NULL));
	assert_true(f->c->closed);
	assert_int_equal(f->c->close_error, 0x0a);

	/* Application CONNECTION_CLOSE with a reason running past the end. */
	uint8_t cc2[] = { 0x1d, 0x00, 0x7f, 0xff, 'x' };
	pl = seal(f, BW_QUIC_V1, false, 0, 1, cc2, sizeof(cc2), p, sizeof(p));
	reset(f);
	assert_int_equal(bw_quic_feed(f->d, f->c, true, p, pl, &f->an), BW_EMALF);
}

static void test_hello_cap_and_type(void **state)
{
	struct fixture *f = *state;
	uint8_t frames[1500], p[1500];
	/* A ClientHello claiming 100 KiB: over the cap. */
	uint8_t huge[] = { 0x01, 0x01, 0x90, 0x00, 0x03, 0x03 };
	size_t pl = seal(f, BW_QUIC_V1, false, 0, 1, frames,
			 put_crypto(frames, 0, huge, sizeof(huge)), p, sizeof(p));
	reset(f);
	assert_int_equal(bw_quic_feed(f->d, f->c, true, p, pl, &f->an), BW_OK);
	assert_int_equal(f->an.n[BW_AN_TLS_HANDSHAKE_CAP], 1);
	assert_true(f->c->client.bad);
	assert_null(bw_quic_client_hello(f->c, NULL));

	/* The stream starts with something that is not a ClientHello. */
	uint8_t fin[] = { 0x14, 0x00, 0x00, 0x02, 0xaa, 0xbb };
	pl = seal(f, BW_QUIC_V1, false, 0, 1, frames, put_crypto(frames, 0, fin, sizeof(fin)), p,
		  sizeof(p));
	reset(f);
	assert_int_equal(bw_quic_feed(f->d, f->c, true, p, pl, &f->an), BW_OK);
	assert_int_equal(f->an.n[BW_AN_TLS_BAD_HANDSHAKE], 1);
	assert_null(bw_quic_client_hello(f->c, NULL));

	/* Data far beyond the cap is dropped, not stored. */
	uint8_t x[10] = { 0 };
	pl = seal(f, BW_QUIC_V1, false, 0, 1, frames, put_crypto(frames, 1u << 20, x, 10), p,
		  sizeof(p));
	reset(f);
	assert_int_equal(bw_quic_feed(f->d, f->c, true, p, pl, &f->an), BW_OK);
	assert_true(f->c->client.cap_hit);
	assert_int_equal(f->c->client.hi, 0);
	pl = seal(f, BW_QUIC_V1, false, 1, 1, frames,
		  put_crypto(frames, BW_QUIC_CLIENT_CRYPTO_CAP - 4, x, 10), p, sizeof(p));
	assert_int_equal(bw_quic_feed(f->d, f->c, true, p, pl, &f->an), BW_OK);
	assert_int_equal(f->c->client.hi, BW_QUIC_CLIENT_CRYPTO_CAP);
}

static void test_packet_numbers(void **state)
{
	struct fixture *f = *state;
	uint8_t ch[3000], frames[1500], p[1500];
	size_t chl = build_client_hello(ch, sizeof(ch), "pn.example", 2000);
	reset(f);
	/* pn 0, 1, then 300 on 2 bytes, then 301 on 1 byte (truncated 0x2d). */
	uint64_t pns[] = { 0, 1, 300, 301 };
	unsigned lens[] = { 1, 1, 2, 1 };
	size_t piece = 600;
	for (size_t i = 0; i < 4; i++) {
		size_t off = i * piece, l = BW_MIN(piece, chl - off);
		size_t pl = seal(f, BW_QUIC_V1, false, pns[i], lens[i], frames,
				 put_crypto(frames, off, ch + off, l), p, sizeof(p));
		assert_int_equal(bw_quic_feed(f->d, f->c, true, p, pl, &f->an), BW_OK);
		assert_int_equal(f->c->largest_pn[0], (int64_t)pns[i]);
	}
	assert_non_null(bw_quic_client_hello(f->c, NULL));
	assert_int_equal(f->c->decrypted[0], 4);
}

/* Client Initial, Retry, client Initial on the new DCID, server Initial keyed on it. */
static void test_retry_flow(void **state)
{
	struct fixture *f = *state;
	uint8_t ch[1500], frames[1500], p1[1500], p2[1500], sp[600], retry[64];
	size_t chl = build_client_hello(ch, sizeof(ch), "retry.example", 900);
	static const uint8_t odcid[8] = { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88 };
	/* Build a v1 Retry for odcid whose SCID is DCID2; the tag via the RFC's fixed key. */
	reset(f);
	struct bw_quic_seal s = {
		.version = BW_QUIC_V1, .key_dcid = odcid, .key_dcid_len = 8, .dcid = odcid,
		.dcid_len = 8, .scid = SCID2, .scid_len = 4, .pn = 0, .pn_len = 1,
		.payload = frames, .payload_len = 1100,
	};
	memset(frames, 0, sizeof(frames));
	put_crypto(frames, 0, ch, 500);
	size_t n1 = 0;
	assert_int_equal(bw_quic_seal_initial(f->d, &s, p1, sizeof(p1), &n1), BW_OK);
	assert_int_equal(bw_quic_feed(f->d, f->c, true, p1, n1, &f->an), BW_OK);
	assert_int_equal(f->c->client.contig, 500);

	/* Retry: ff 00000001 | dcid=SCID2 | scid=DCID2 | token "tok" | tag. */
	size_t rn = 0;
	retry[rn++] = 0xf0;
	retry[rn++] = 0;
	retry[rn++] = 0;
	retry[rn++] = 0;
	retry[rn++] = 1;
	retry[rn++] = 4;
	memcpy(retry + rn, SCID2, 4);
	rn += 4;
	retry[rn++] = 10;
	memcpy(retry + rn, DCID2, 10);
	rn += 10;
	memcpy(retry + rn, "tok", 3);
	rn += 3;
	/* Compute the tag with OpenSSL directly, as a server would. */
	{
		static const uint8_t key[16] = { 0xbe, 0x0c, 0x69, 0x0b, 0x9f, 0x66, 0x57, 0x5a,
						 0x1d, 0x76, 0x6b, 0x54, 0xe3, 0x68, 0xc8, 0x4e };
		static const uint8_t nonce[12] = { 0x46, 0x15, 0x99, 0xd3, 0x5d, 0x63,
						   0x2b, 0xf2, 0x23, 0x98, 0x25, 0xbb };
		uint8_t pseudo[64];
		pseudo[0] = 8;
		memcpy(pseudo + 1, odcid, 8);
		memcpy(pseudo + 9, retry, rn);
		EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
		int outl = 0;
		assert_int_equal(EVP_EncryptInit_ex(x, EVP_aes_128_gcm(), NULL, key, nonce), 1);
		assert_int_equal(EVP_EncryptUpdate(x, NULL, &outl, pseudo, (int)(9 + rn)), 1);
		assert_int_equal(EVP_EncryptFinal_ex(x, retry + rn, &outl), 1);
		assert_int_equal(EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_GET_TAG, 16, retry + rn), 1);
		EVP_CIPHER_CTX_free(x);
		rn += 16;
	}
	assert_int_equal(bw_quic_feed(f->d, f->c, false, retry, rn, &f->an), BW_OK);
	assert_true(bw_quic_retry_seen(f->c));

	/* The client's next Initial: DCID = the Retry's SCID (DCID2), keyed on it. */
	memset(frames, 0, sizeof(frames));
	size_t fl = put_crypto(frames, 0, ch, chl);
	size_t n2 = seal(f, BW_QUIC_V1, false, 1, 1, frames, fl, p2, sizeof(p2));
	assert_int_equal(bw_quic_feed(f->d, f->c, true, p2, n2, &f->an), BW_OK);
	assert_non_null(bw_quic_client_hello(f->c, NULL));
	/* And the server's Initial, keyed on DCID2 as well. */
	uint8_t sh[] = { 0x02, 0x00, 0x00, 0x02, 0x03, 0x03 };
	size_t sl = seal(f, BW_QUIC_V1, true, 0, 1, frames, put_crypto(frames, 0, sh, sizeof(sh)),
			 sp, sizeof(sp));
	assert_int_equal(bw_quic_feed(f->d, f->c, false, sp, sl, &f->an), BW_OK);
	assert_non_null(bw_quic_server_hello(f->c, NULL));
	assert_int_equal(f->an.n[BW_AN_QUIC_BAD], 0);
	char hex[41];
	bw_quic_dcid_hex(f->c, hex, sizeof(hex));
	assert_string_equal(hex, "1122334455667788");
	bw_quic_scid_hex(f->c, hex, sizeof(hex));
	assert_string_equal(hex, "aabbccdd");

	/* Without seeing the Retry, the client's own DCID is tried as a fallback. */
	reset(f);
	assert_int_equal(bw_quic_feed(f->d, f->c, true, p1, n1, &f->an), BW_OK);
	assert_int_equal(bw_quic_feed(f->d, f->c, true, p2, n2, &f->an), BW_OK);
	assert_non_null(bw_quic_client_hello(f->c, NULL));
	assert_int_equal(bw_quic_feed(f->d, f->c, false, sp, sl, &f->an), BW_OK);
	assert_non_null(bw_quic_server_hello(f->c, NULL));
}

static void test_draft29(void **state)
{
	struct fixture *f = *state;
	uint8_t ch[600], frames[1500], p[1500];
	size_t chl = build_client_hello(ch, sizeof(ch), "draft.example", 100);
	size_t pl = seal(f, BW_QUIC_DRAFT29, false, 0, 1, frames, put_crypto(frames, 0, ch, chl),
			 p, sizeof(p));
	reset(f);
	assert_true(bw_quic_looks_like_initial(p, pl));
	assert_int_equal(bw_quic_feed(f->d, f->c, true, p, pl, &f->an), BW_OK);
	assert_non_null(bw_quic_client_hello(f->c, NULL));
	assert_string_equal(bw_quic_version_name(bw_quic_version(f->c)), "draft-29");
	/* The same bytes claimed as v1 do not open: the salts differ. */
	p[4] = 1;
	p[1] = 0;
	p[2] = 0;
	p[3] = 0;
	reset(f);
	assert_int_equal(bw_quic_feed(f->d, f->c, true, p, pl, &f->an), BW_EMALF);
}

static void test_accessors(void **state)
{
	(void)state;
	char hex[41] = "x";
	assert_string_equal(bw_quic_version_name(BW_QUIC_V1), "1");
	assert_string_equal(bw_quic_version_name(BW_QUIC_V2), "quicv2");
	assert_string_equal(bw_quic_version_name(0xff000020), "draft-32");
	assert_string_equal(bw_quic_version_name(0xff000021), "unknown");
	assert_int_equal(bw_quic_version(NULL), 0);
	assert_false(bw_quic_retry_seen(NULL));
	assert_null(bw_quic_client_hello(NULL, NULL));
	assert_null(bw_quic_server_hello(NULL, NULL));
	assert_false(bw_quic_conn_done(NULL));
	assert_int_equal(bw_quic_dcid_hex(NULL, hex, sizeof(hex)), 0);
	assert_string_equal(hex, "");
	bw_quic_conn_init(NULL);
	bw_quic_conn_deinit(NULL);
	bw_quic_decoder_free(NULL);
	assert_int_equal(bw_quic_feed(NULL, NULL, true, NULL, 0, NULL), BW_EINVAL);
}

/* ---- real captures ------------------------------------------------------ */

#define MAX_FLOWS 256

struct flow {
	uint8_t a[18], b[18]; /* client and server address + port */
	struct bw_quic_conn *c;
};

struct capture {
	struct flow flows[MAX_FLOWS];
	size_t nflows;
	size_t datagrams, initials_ok, errors;
};

static void endpoint(uint8_t out[18], const uint8_t *ip, size_t iplen, uint16_t port)
{
	memset(out, 0, 18);
	memcpy(out, ip, iplen);
	out[16] = (uint8_t)(port >> 8);
	out[17] = (uint8_t)port;
}

static void feed_udp(struct fixture *f, struct capture *cap, const uint8_t src[18],
		     const uint8_t dst[18], const uint8_t *p, size_t n)
{
	struct flow *fl = NULL;
	bool from_client = true;
	for (size_t i = 0; i < cap->nflows && !fl; i++) {
		if (!memcmp(cap->flows[i].a, src, 18) && !memcmp(cap->flows[i].b, dst, 18))
			fl = &cap->flows[i];
		else if (!memcmp(cap->flows[i].a, dst, 18) && !memcmp(cap->flows[i].b, src, 18)) {
			fl = &cap->flows[i];
			from_client = false;
		}
	}
	if (!fl) {
		/* A flow starts at a client Initial; anything else before it is ignored. */
		if (!bw_quic_looks_like_initial(p, n) || n < 1200 || cap->nflows == MAX_FLOWS)
			return;
		fl = &cap->flows[cap->nflows++];
		memcpy(fl->a, src, 18);
		memcpy(fl->b, dst, 18);
		fl->c = malloc(sizeof(*fl->c));
		assert_non_null(fl->c);
		bw_quic_conn_init(fl->c);
	}
	cap->datagrams++;
	int rc = bw_quic_feed(f->d, fl->c, from_client, p, n, &f->an);
	if (rc != BW_OK)
		cap->errors++;
}

static void on_ip(struct fixture *f, struct capture *cap, const uint8_t *p, size_t n)
{
	struct bw_wire w;
	bw_wire_init(&w, p, n);
	uint8_t v = bw_wire_u8(&w) >> 4;
	uint8_t src[18], dst[18];
	const uint8_t *s, *d;
	if (v == 4) {
		size_t ihl = (p[0] & 15u) * 4;
		bw_wire_seek(&w, 6);
		uint16_t frag = bw_wire_u16(&w);
		bw_wire_skip(&w, 1);
		if (bw_wire_u8(&w) != 17 || (frag & 0x3fff))
			return;
		bw_wire_seek(&w, 12);
		s = bw_wire_ptr(&w, 4);
		d = bw_wire_ptr(&w, 4);
		bw_wire_seek(&w, ihl);
		if (!s || !d)
			return;
		uint16_t sp = bw_wire_u16(&w), dp = bw_wire_u16(&w), ul = bw_wire_u16(&w);
		bw_wire_skip(&w, 2);
		endpoint(src, s, 4, sp);
		endpoint(dst, d, 4, dp);
		if (ul < 8 || !bw_wire_ok(&w))
			return;
		size_t len = BW_MIN((size_t)ul - 8, bw_wire_left(&w));
		feed_udp(f, cap, src, dst, bw_wire_ptr(&w, len), len);
	} else if (v == 6) {
		bw_wire_seek(&w, 6);
		if (bw_wire_u8(&w) != 17)
			return;
		bw_wire_skip(&w, 1);
		s = bw_wire_ptr(&w, 16);
		d = bw_wire_ptr(&w, 16);
		uint16_t sp = bw_wire_u16(&w), dp = bw_wire_u16(&w), ul = bw_wire_u16(&w);
		bw_wire_skip(&w, 2);
		if (!s || !d || ul < 8 || !bw_wire_ok(&w))
			return;
		endpoint(src, s, 16, sp);
		endpoint(dst, d, 16, dp);
		size_t len = BW_MIN((size_t)ul - 8, bw_wire_left(&w));
		feed_udp(f, cap, src, dst, bw_wire_ptr(&w, len), len);
	}
}

static void on_frame(struct fixture *f, struct capture *cap, int dlt, const uint8_t *p, size_t n)
{
	struct bw_wire w;
	bw_wire_init(&w, p, n);
	uint16_t et = 0;
	if (dlt == DLT_EN10MB) {
		bw_wire_skip(&w, 12);
		et = bw_wire_u16(&w);
		for (int i = 0; i < 4 && (et == 0x8100 || et == 0x88a8); i++) {
			bw_wire_skip(&w, 2);
			et = bw_wire_u16(&w);
		}
	} else if (dlt == DLT_LINUX_SLL) {
		bw_wire_skip(&w, 14);
		et = bw_wire_u16(&w);
	} else if (dlt == DLT_RAW || dlt == DLT_IPV4 || dlt == DLT_IPV6) {
		et = 0x0800;
	} else if (dlt == DLT_PPP) {
		const uint8_t *hdlc = bw_wire_peek(&w, 2);
		if (hdlc && hdlc[0] == 0xff && hdlc[1] == 0x03)
			bw_wire_skip(&w, 2);
		uint16_t proto = bw_wire_u16(&w);
		et = proto == 0x0021 ? 0x0800 : proto == 0x0057 ? 0x86dd : 0;
	}
	if (!bw_wire_ok(&w) || (et != 0x0800 && et != 0x86dd))
		return;
	size_t left = bw_wire_left(&w);
	on_ip(f, cap, bw_wire_ptr(&w, left), left);
}

/* The rows of kind for file in EXPECTED.tsv: value and detail columns. */
struct expect {
	char value[256];
	char detail[256];
};

static size_t expected_rows(const char *file, const char *kind, struct expect *rows, size_t max)
{
	FILE *fp = fopen(PCAP_DIR "/EXPECTED.tsv", "r");
	char line[4096];
	size_t n = 0;
	if (!fp)
		return 0;
	while (fgets(line, sizeof(line), fp) && n < max) {
		char *col[7] = { 0 }, *save = NULL, *t = strtok_r(line, "\t\n", &save);
		for (int i = 0; i < 7 && t; i++, t = strtok_r(NULL, "\t\n", &save))
			col[i] = t;
		if (!col[3] || strcmp(col[0], file) || strcmp(col[1], kind))
			continue;
		snprintf(rows[n].value, sizeof(rows[n].value), "%s", col[3]);
		snprintf(rows[n].detail, sizeof(rows[n].detail), "%s", col[6] ? col[6] : "");
		n++;
	}
	fclose(fp);
	return n;
}

static int ext_type(const char *name)
{
	static const struct {
		const char *name;
		int type;
	} names[] = { { "server_name", 0 }, { "supported_groups", 10 }, { "alpn", 16 },
		      { "supported_versions", 43 }, { "key_share", 51 } };
	for (size_t i = 0; i < BW_ARRAY_SIZE(names); i++)
		if (!strcmp(names[i].name, name))
			return names[i].type;
	return -2;
}

/* The cipher suite a ServerHello selected; -1 if it does not parse. */
static int server_hello_cipher(const uint8_t *m, size_t len)
{
	struct bw_wire w;
	bw_wire_init(&w, m, len);
	if (bw_wire_u8(&w) != 2)
		return -1;
	bw_wire_skip(&w, 3 + 2 + 32);
	bw_wire_skip(&w, bw_wire_u8(&w));
	uint16_t cs = bw_wire_u16(&w);
	return bw_wire_ok(&w) ? cs : -1;
}

/* A tls_cipher row holds if some ServerHello picked that suite. */
static bool cipher_row_holds(const struct capture *cap, const struct expect *row)
{
	static const struct {
		const char *name;
		int id;
	} suites[] = { { "TLS_AES_128_GCM_SHA256", 0x1301 }, { "TLS_AES_256_GCM_SHA384", 0x1302 },
		       { "TLS_CHACHA20_POLY1305_SHA256", 0x1303 } };
	int want = -2;
	for (size_t i = 0; i < BW_ARRAY_SIZE(suites); i++)
		if (!strcmp(suites[i].name, row->value))
			want = suites[i].id;
	for (size_t i = 0; i < cap->nflows; i++) {
		size_t len = 0;
		const uint8_t *m = bw_quic_server_hello(cap->flows[i].c, &len);
		if (m && server_hello_cipher(m, len) == want)
			return true;
	}
	return false;
}

/* A quic_version row ("1", "quicv2") holds if some flow's first Initial had it. */
static bool version_row_holds(const struct capture *cap, const struct expect *row)
{
	for (size_t i = 0; i < cap->nflows; i++)
		if (!strcmp(bw_quic_version_name(bw_quic_version(cap->flows[i].c)), row->value))
			return true;
	return false;
}

/* A tls_extension row ("supported_groups", "index=0") holds for some hello of the capture. */
static bool extension_row_holds(const struct capture *cap, const struct expect *row)
{
	const char *ix = strstr(row->detail, "index=");
	if (!ix)
		return false;
	size_t idx = (size_t)atoi(ix + 6);
	int want = ext_type(row->value);
	for (size_t i = 0; i < cap->nflows; i++) {
		size_t len = 0;
		const uint8_t *m = bw_quic_client_hello(cap->flows[i].c, &len);
		if (m && hello_ext_at(m, len, idx) == want)
			return true;
		m = bw_quic_server_hello(cap->flows[i].c, &len);
		if (m && hello_ext_at(m, len, idx) == want)
			return true;
	}
	return false;
}

struct capture_case {
	const char *file;
	bool retry;         /* a Retry must be seen */
	bool server_hello;  /* at least one ServerHello must be decrypted */
	size_t min_flows;   /* flows with a complete ClientHello */
};

static void run_capture(struct fixture *f, const struct capture_case *cc)
{
	char path[512], err[PCAP_ERRBUF_SIZE];
	snprintf(path, sizeof(path), "%s/%s", PCAP_DIR, cc->file);
	pcap_t *pc = pcap_open_offline(path, err);
	if (!pc) {
		print_message("skipping %s: %s\n", cc->file, err);
		return;
	}
	struct capture *cap = calloc(1, sizeof(*cap));
	assert_non_null(cap);
	memset(&f->an, 0, sizeof(f->an));
	int dlt = pcap_datalink(pc);
	struct pcap_pkthdr *h;
	const u_char *data;
	while (pcap_next_ex(pc, &h, &data) == 1)
		on_frame(f, cap, dlt, data, h->caplen);
	pcap_close(pc);

	static struct expect want[400], ext[32];
	size_t nwant = expected_rows(cc->file, "tls_sni", want, 400);
	size_t next = expected_rows(cc->file, "tls_extension", ext, 32);
	bool *found = calloc(nwant + 1, sizeof(bool));
	assert_non_null(found);
	size_t complete = 0, with_sh = 0, retries = 0;
	for (size_t i = 0; i < cap->nflows; i++) {
		struct bw_quic_conn *c = cap->flows[i].c;
		size_t len = 0;
		const uint8_t *ch = bw_quic_client_hello(c, &len);
		char sni[256];
		if (bw_quic_server_hello(c, NULL))
			with_sh++;
		if (bw_quic_retry_seen(c))
			retries++;
		if (!ch)
			continue;
		complete++;
		if (!client_hello_sni(ch, len, sni, sizeof(sni)))
			continue;
		bool listed = false;
		for (size_t k = 0; k < nwant; k++)
			if (!strcmp(want[k].value, sni))
				found[k] = listed = true;
		if (!listed && nwant)
			print_message("%s: SNI %s not in EXPECTED.tsv\n", cc->file, sni);
		assert_true(listed || nwant == 0);
	}
	print_message("%s: %zu flows, %zu datagrams, %zu ClientHellos, %zu ServerHellos, "
		      "%zu retries, %zu errors, quic.bad_initial=%llu\n",
		      cc->file, cap->nflows, cap->datagrams, complete, with_sh, retries,
		      cap->errors, (unsigned long long)f->an.n[BW_AN_QUIC_BAD]);
	for (size_t k = 0; k < nwant; k++) {
		if (!found[k])
			print_message("%s: expected SNI %s not found\n", cc->file, want[k].value);
		assert_true(found[k]);
	}
	for (size_t k = 0; k < next; k++) {
		if (!extension_row_holds(cap, &ext[k]))
			print_message("%s: extension %s (%s) not found\n", cc->file, ext[k].value,
				      ext[k].detail);
		assert_true(extension_row_holds(cap, &ext[k]));
	}
	static struct expect other[32];
	size_t nother = expected_rows(cc->file, "tls_cipher", other, 32);
	for (size_t k = 0; k < nother; k++) {
		if (!cipher_row_holds(cap, &other[k]))
			print_message("%s: cipher %s not found\n", cc->file, other[k].value);
		assert_true(cipher_row_holds(cap, &other[k]));
	}
	size_t nver = expected_rows(cc->file, "quic_version", other, 32);
	for (size_t k = 0; k < nver; k++) {
		if (!version_row_holds(cap, &other[k]))
			print_message("%s: version %s not found\n", cc->file, other[k].value);
		assert_true(version_row_holds(cap, &other[k]));
	}
	assert_true(nwant + next + nother + nver > 0);
	assert_true(complete >= cc->min_flows);
	if (cc->server_hello)
		assert_true(with_sh > 0);
	if (cc->retry)
		assert_true(retries > 0);
	assert_int_equal(f->an.n[BW_AN_QUIC_BAD], 0);
	for (size_t i = 0; i < cap->nflows; i++) {
		bw_quic_conn_deinit(cap->flows[i].c);
		free(cap->flows[i].c);
	}
	free(found);
	free(cap);
}

static void test_captures(void **state)
{
	static const struct capture_case cases[] = {
		{ "sv-quic-ietf.pcap", false, true, 1 },
		{ "sv-quic-frag-unordered.pcap", false, true, 1 },
		{ "sv-quic-retry.pcap", true, true, 1 },
		{ "ndpi-quic-v2.pcapng", false, true, 1 },
		{ "ndpi-quic-frags-ooo.pcapng", false, false, 50 },
		{ "arkime-quic-ooo.pcap", false, false, 1 },
		{ "zeek-quic-39264-rand.pcap", false, true, 1 },
		{ "zeek-quic-chromium.pcap", false, true, 1 },
		{ "zeek-quic-curl-http3.pcap", false, true, 1 },
		{ "zeek-quic-go-handshake.pcap", false, true, 1 },
		{ "zeek-quic-go-zerortt.pcap", false, true, 2 },
		{ "zeek-quic-merlinc2.pcapng", false, true, 1 },
		{ "zeek-quic-win11-firefox.pcap", false, true, 1 },
		{ "zeek-quicv2-http3-443.pcap", false, true, 1 },
	};
	FILE *probe = fopen(PCAP_DIR "/EXPECTED.tsv", "r");
	if (!probe)
		skip();
	fclose(probe);
	for (size_t i = 0; i < BW_ARRAY_SIZE(cases); i++)
		run_capture(*state, &cases[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc9001_keys),
		cmocka_unit_test(test_rfc9001_client_initial),
		cmocka_unit_test(test_rfc9001_server_initial),
		cmocka_unit_test(test_rfc9001_retry),
		cmocka_unit_test(test_rfc9369_keys),
		cmocka_unit_test(test_rfc9369_client_initial),
		cmocka_unit_test(test_rfc9369_server_initial),
		cmocka_unit_test(test_rfc9369_retry),
		cmocka_unit_test(test_derive_errors),
		cmocka_unit_test(test_draft29),
		cmocka_unit_test(test_split_reverse_order),
		cmocka_unit_test(test_out_of_order_in_one_packet),
		cmocka_unit_test(test_duplicate_and_overlap),
		cmocka_unit_test(test_truncated_every_length),
		cmocka_unit_test(test_wrong_dcid),
		cmocka_unit_test(test_corrupted_tag),
		cmocka_unit_test(test_coalesced),
		cmocka_unit_test(test_looks_like_initial),
		cmocka_unit_test(test_bad_frame_keeps_data),
		cmocka_unit_test(test_frames_ack_ecn_close),
		cmocka_unit_test(test_hello_cap_and_type),
		cmocka_unit_test(test_packet_numbers),
		cmocka_unit_test(test_retry_flow),
		cmocka_unit_test(test_accessors),
		cmocka_unit_test(test_captures),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
