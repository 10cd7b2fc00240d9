/* SPDX-License-Identifier: MIT */
/* vigil-open: makes an owner key pair, and opens sealed segments (RecordDir/<camera>/NNNNNNNN.ts.sealed) with
 * the owner's secret key. Plaintext is written to a temporary file and renamed only once every chunk
 * authenticated, so a refused segment never leaves plaintext under the final name. */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "chain_report.h"
#include "seal.h"
#include "vigil/object_name.h"

#define EXIT_REFUSED 1
#define EXIT_USAGE 2
#define SEALED_SUFFIX ".sealed"
#define KEY_FILE_MAX 256
#define MAX_KEYS 8 /* --secret-key given again: the owner's keys before and after a change of OwnerKey */

/* The owner's secret keys, in one locked allocation. */
struct keys {
	uint8_t *sk; /* n of them, VIGIL_SEAL_KEY_BYTES each */
	unsigned n;
};

static const char usage_text[] =
    "usage: vigil-open --keygen SECRET_KEY_FILE\n"
    "       vigil-open --secret-key FILE [--partial] [--out DIR] [--check] SEGMENT|CAMERA_DIR...\n"
    "       vigil-open --secret-key FILE --public-key\n"
    "\n"
    "  --keygen FILE      create FILE (mode 0600, never overwritten) holding a new owner secret key;\n"
    "                     print the public key, the value for the camera's OwnerKey = line\n"
    "  --secret-key FILE  the owner secret key (base64); refused if group or others may access it.\n"
    "                     Again for each earlier OwnerKey: a segment opens with the one it was sealed to\n"
    "  --public-key       print the public key of --secret-key\n"
    "  --partial          open segments cut short by an interrupted recording: write what authenticated\n"
    "  --out DIR          write plaintext into DIR instead of next to each segment\n"
    "  --check            write no plaintext: only say what opens (and, of a folder, its chain)\n"
    "  SEGMENT            RecordDir/<camera>/NNNNNNNN.ts.sealed; camera and segment number come from the\n"
    "                     path and must match what was sealed, so moved or renamed segments are refused;\n"
    "                     a copy from the object store may carry its start first (<start>-NNNNNNNN.ts.sealed)\n"
    "  CAMERA_DIR         RecordDir/<camera>: every sealed segment in it, then its chain, one line for\n"
    "                     each finding: missing, reordered, moved, replaced, inserted or cut segments, and\n"
    "                     which cuts and losses a crash explains\n"
    "\n"
    "exit status: 0 every segment opened and every folder's chain whole (but for what crashes explain),\n"
    "1 some segment refused or some chain not whole, 2 usage or key file problem\n";

static int keygen(const char *path)
{
	uint8_t pk[VIGIL_SEAL_KEY_BYTES];
	char pk64[VIGIL_SEAL_KEY_B64_BYTES], msg[512];

	if (vigil_seal_keyfile_create(path, pk, msg, sizeof(msg)) < 0) {
		fprintf(stderr, "vigil-open: %s\n", msg);
		return EXIT_USAGE;
	}
	vigil_seal_key_encode(pk, pk64);
	printf("%s\n", pk64);
	return 0;
}

/* Reads the base64 secret key into sk; refuses a file others could read or replace. */
static int load_secret_key(const char *path, uint8_t sk[VIGIL_SEAL_KEY_BYTES])
{
	char *text = sodium_malloc(KEY_FILE_MAX + 1);
	struct stat st;
	ssize_t n = -1;
	int rc = -1;
	int fd;

	if (text == NULL) {
		fprintf(stderr, "vigil-open: out of memory\n");
		return -1;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "vigil-open: secret key %s: %s\n", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		fprintf(stderr, "vigil-open: secret key %s: not a regular file\n", path);
		goto out;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		fprintf(stderr,
			"vigil-open: secret key %s: mode %04o lets group or others at it; chmod 600 %s\n",
			path, (unsigned)(st.st_mode & 07777), path);
		goto out;
	}
	n = read(fd, text, KEY_FILE_MAX + 1);
	if (n < 0) {
		fprintf(stderr, "vigil-open: secret key %s: %s\n", path, strerror(errno));
		goto out;
	}
	text[n > KEY_FILE_MAX ? KEY_FILE_MAX : n] = '\0';
	if (n > KEY_FILE_MAX || vigil_seal_key_decode(sk, text) < 0) {
		fprintf(stderr,
			"vigil-open: secret key %s: not a base64 32-byte key (as written by --keygen)\n",
			path);
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	sodium_free(text);
	return rc;
}

/* Where a segment came from and where its plaintext goes. */
struct segment_path {
	char camera[VIGIL_SEAL_NAME_MAX + 1];
	uint32_t number;
	char final[PATH_MAX]; /* the plaintext's name */
	char temp[PATH_MAX];  /* mkstemp template beside it */
};

/* Camera from the parent directory's name, segment number from the leading digits of NNNNNNNN.ts.sealed: both
 * are bound into every chunk, so they must be where the recorder put the segment. */
static int parse_segment_path(const char *path, const char *out_dir, struct segment_path *g, char *err,
			      size_t errlen)
{
	const char *slash = strrchr(path, '/');
	const char *file = slash != NULL ? slash + 1 : path;
	const char *name = file + vigil_object_time_len(file); /* a copy from the object store: its start first */
	size_t n = strlen(name), sfx = strlen(SEALED_SUFFIX), digits = 0;
	char dir[PATH_MAX], real[PATH_MAX];
	const char *cam;
	uint64_t v = 0;

	while (name[digits] >= '0' && name[digits] <= '9' && digits < 11)
		v = v * 10 + (uint64_t)(name[digits++] - '0');
	if (digits < 8 || digits > 10 || v > UINT32_MAX || name[digits] != '.' || n <= digits + sfx ||
	    strcmp(name + n - sfx, SEALED_SUFFIX) != 0) {
		snprintf(err, errlen,
			 "the file name is not NNNNNNNN.ts.sealed (the segment number is read from it)");
		return -1;
	}
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else if ((size_t)(slash - path) >= sizeof(dir)) {
		snprintf(err, errlen, "path too long");
		return -1;
	} else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if (realpath(dir, real) == NULL) {
		snprintf(err, errlen, "cannot resolve its directory: %s", strerror(errno));
		return -1;
	}
	cam = strrchr(real, '/') + 1;
	if (!vigil_seal_name_ok(cam)) {
		snprintf(err, errlen, "its directory \"%s\" is not a camera name (1-64 of A-Z a-z 0-9 _ -)",
			 cam);
		return -1;
	}
	snprintf(g->camera, sizeof(g->camera), "%s", cam);
	g->number = (uint32_t)v;
	if (out_dir != NULL)
		snprintf(dir, sizeof(dir), "%s", out_dir);
	if (snprintf(g->final, sizeof(g->final), "%s/%.*s", dir, (int)(n - sfx), name) >=
		(int)sizeof(g->final) ||
	    snprintf(g->temp, sizeof(g->temp), "%s/.%.*s.XXXXXX", dir, (int)(n - sfx), name) >=
		(int)sizeof(g->temp)) {
		snprintf(err, errlen, "output path too long");
		return -1;
	}
	return 0;
}

/* The whole segment in memory: the reader authenticates a file as one stream. */
static uint8_t *read_whole(const char *path, size_t *len, char *err, size_t errlen)
{
	struct stat st;
	uint8_t *buf = NULL;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) != 0) {
		snprintf(err, errlen, "%s", strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "not a regular file");
		goto fail;
	}
	buf = malloc(st.st_size > 0 ? (size_t)st.st_size : 1);
	if (buf == NULL) {
		snprintf(err, errlen, "out of memory for %jd bytes", (intmax_t)st.st_size);
		goto fail;
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, errlen, "%s", strerror(errno));
			goto fail;
		}
		if (r == 0)
			break; /* shrank while we read: the reader will see it as cut short */
		got += (size_t)r;
	}
	close(fd);
	*len = got;
	return buf;
fail:
	if (fd >= 0)
		close(fd);
	free(buf);
	return NULL;
}

struct sink {
	int fd;
	int err; /* first write error */
	uint64_t bytes;
};

static void sink_write(void *arg, const uint8_t *data, size_t len)
{
	struct sink *k = arg;

	while (len > 0 && k->err == 0) {
		ssize_t w = write(k->fd, data, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			k->err = errno;
			break;
		}
		data += w;
		len -= (size_t)w;
		k->bytes += (uint64_t)w;
	}
}

/* --check: authenticated plaintext, unwanted. */
static void discard(void *arg, const uint8_t *data, size_t len)
{
	(void)arg;
	(void)data;
	(void)len;
}

/* Makes a rename durable. */
static void sync_dir_of(const char *file)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(file, '/');
	int fd;

	snprintf(dir, sizeof(dir), "%.*s", slash == file ? 1 : (int)(slash - file), file);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

/* One segment. Alone (cf NULL), it must be sealed for the place its path names; in a folder, it is opened
 * under the place its own header names, cf gets what it said, and only a segment that is where it was sealed
 * for is written out. Plaintext goes out unless check, a cut one's only with partial. 0 opened (completely,
 * or partially with partial), -1 refused. */
static int open_segment(const char *path, const struct keys *keys, bool partial, const char *out_dir,
			bool check, struct chain_file *cf)
{
	struct segment_path g;
	struct sink k = {.fd = -1};
	struct vigil_seal_info info;
	char err[VIGIL_SEAL_ERR_BYTES + PATH_MAX];
	uint8_t *file = NULL;
	size_t len = 0;
	bool write;
	int rc = -EKEYREJECTED;

	if (cf != NULL)
		cf->rc = -EIO; /* until it is read */
	if (parse_segment_path(path, out_dir, &g, err, sizeof(err)) < 0)
		goto refused;
	file = read_whole(path, &len, err, sizeof(err));
	if (file == NULL)
		goto refused;
	if (cf != NULL)
		cf->peeked =
		    vigil_seal_peek(file, len, len,
				    len >= VIGIL_SEAL_MAC_BYTES ? file + len - VIGIL_SEAL_MAC_BYTES : NULL,
				    &cf->peek) == 0 &&
		    cf->peek.version == 2;
	if (!check) {
		k.fd = mkstemp(g.temp); /* 0600: plaintext is the owner's */
		if (k.fd < 0) {
			snprintf(err, sizeof(err), "cannot create %s: %s", g.temp, strerror(errno));
			goto refused;
		}
	}
	/* The key it was sealed to; nothing comes out under another. */
	for (unsigned i = 0; i < keys->n; i++) {
		rc = vigil_seal_open(file, len, keys->sk + i * VIGIL_SEAL_KEY_BYTES,
				     cf != NULL && cf->peeked ? NULL : g.camera, g.number,
				     partial || cf != NULL, check ? discard : sink_write, &k, &info, err,
				     sizeof(err));
		if (rc != -EKEYREJECTED)
			break;
	}
	if (cf != NULL) {
		cf->rc = rc;
		cf->info = info;
		snprintf(cf->err, sizeof(cf->err), "%.*s", (int)sizeof(cf->err) - 1, err);
	}
	if (rc < 0 || (rc == 1 && !partial))
		goto refused;
	write = !check && (cf == NULL || (strcmp(info.camera, g.camera) == 0 && info.segment == g.number));
	if (write) {
		if (k.err == 0 && fsync(k.fd) != 0)
			k.err = errno;
		if (close(k.fd) != 0 && k.err == 0)
			k.err = errno;
		k.fd = -1;
		if (k.err == 0 && rename(g.temp, g.final) != 0)
			k.err = errno;
		if (k.err != 0) {
			snprintf(err, sizeof(err), "cannot write %s: %s", g.final, strerror(k.err));
			goto refused;
		}
		sync_dir_of(g.final);
		if (rc == 1)
			printf("%s: PARTIAL, %" PRIu64 " authenticated bytes -> %s (%s)\n", path, k.bytes,
			       g.final, err);
		else
			printf("%s: %" PRIu64 " bytes -> %s\n", path, k.bytes, g.final);
	} else if (k.fd >= 0) {
		close(k.fd);
		unlink(g.temp);
	}
	free(file);
	return 0;
refused:
	if (k.fd >= 0) {
		close(k.fd);
		unlink(g.temp);
	} else if (k.err != 0)
		unlink(g.temp);
	free(file);
	/* In a folder, the report says it. */
	if (cf == NULL)
		fprintf(stderr, "vigil-open: %s: refused: %s\n", path, err);
	else if (cf->rc == -EIO)
		snprintf(cf->err, sizeof(cf->err), "%.*s", (int)sizeof(cf->err) - 1, err);
	return -1;
}

/* NNNNNNNN (8 to 10 digits) and then exactly suffix. */
/* NNNNNNNN and suffix, on disk; in the object store with the segment's
 * start before it (vigil/object_name.h). */
static bool numbered(const char *file, const char *suffix, uint32_t *num)
{
	const char *name = file + vigil_object_time_len(file);
	size_t digits = strspn(name, "0123456789");
	uint64_t v = strtoull(name, NULL, 10);

	if (digits < 8 || digits > 10 || v > UINT32_MAX || strcmp(name + digits, suffix) != 0)
		return false;
	*num = (uint32_t)v;
	return true;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int by_number(const void *a, const void *b)
{
	uint32_t x = ((const struct chain_file *)a)->number, y = ((const struct chain_file *)b)->number;

	return x < y ? -1 : x > y;
}

static int by_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* A camera's folder: every sealed segment opened, then the chain of them reported. 0 whole (but for what
 * crashes explain), -1 anything else. */
static int open_folder(const char *dir, const struct keys *keys, bool partial, const char *out_dir,
		       bool check)
{
	struct chain_folder d = {0};
	struct chain_file *files;
	struct dirent **ents;
	const char **part;
	char real[PATH_MAX], path[2 * PATH_MAX];
	uint32_t *plain, num;
	int n = scandir(dir, &ents, NULL, by_name), rc = 0;

	if (n < 0 || realpath(dir, real) == NULL) {
		fprintf(stderr, "vigil-open: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	d.camera = strrchr(real, '/') + 1;
	files = calloc((size_t)n + 1, sizeof(*files));
	plain = calloc((size_t)n + 1, sizeof(*plain));
	part = calloc((size_t)n + 1, sizeof(*part));
	if (!vigil_seal_name_ok(d.camera) || files == NULL || plain == NULL || part == NULL) {
		fprintf(stderr, "vigil-open: %s: %s\n", dir,
			files == NULL || plain == NULL || part == NULL
			    ? "out of memory"
			    : "not a camera's folder (its name is not a camera name)");
		rc = -1;
		goto out;
	}
	for (int i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;

		if (numbered(name, ".ts" SEALED_SUFFIX, &num)) {
			struct chain_file *cf = &files[d.n_files++];

			cf->number = num;
			snprintf(path, sizeof(path), "%s/%s", dir, name);
			(void)open_segment(path, keys, partial, out_dir, check, cf);
		} else if (numbered(name, ".ts", &num) || numbered(name, ".m4s", &num)) {
			plain[d.n_plain++] = num;
		} else if (strspn(name, "0123456789") >= 8 && strlen(name) > 8 &&
			   strcmp(name + strlen(name) - 8, ".partial") == 0) {
			part[d.n_partial++] = name;
		}
	}
	/* Names of more than 8 digits sort after 99999999 only by number. */
	qsort(files, d.n_files, sizeof(*files), by_number);
	qsort(plain, d.n_plain, sizeof(*plain), by_u32);
	d.files = files;
	d.plain = plain;
	d.partial = part;
	if (chain_report(&d, stdout) > 0)
		rc = -1;
out:
	free(files);
	free(plain);
	free(part);
	for (int i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"keygen", required_argument, NULL, 'k'}, {"secret-key", required_argument, NULL, 's'},
	    {"public-key", no_argument, NULL, 'p'},   {"partial", no_argument, NULL, 'P'},
	    {"out", required_argument, NULL, 'o'},    {"check", no_argument, NULL, 'C'},
	    {"help", no_argument, NULL, 'h'},	      {NULL, 0, NULL, 0},
	};
	const char *keygen_path = NULL, *sk_path[MAX_KEYS], *out_dir = NULL;
	bool partial = false, print_pk = false, check = false;
	struct keys keys = {0};
	unsigned n_sk = 0;
	int c, rc = 0;

	/* Before any sodium_malloc, which aborts otherwise. */
	if (sodium_init() < 0) {
		fprintf(stderr, "vigil-open: libsodium cannot initialise\n");
		return EXIT_USAGE;
	}
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			keygen_path = optarg;
			break;
		case 's':
			if (n_sk == MAX_KEYS) {
				fprintf(stderr, "vigil-open: at most %d --secret-key\n", MAX_KEYS);
				return EXIT_USAGE;
			}
			sk_path[n_sk++] = optarg;
			break;
		case 'p':
			print_pk = true;
			break;
		case 'P':
			partial = true;
			break;
		case 'o':
			out_dir = optarg;
			break;
		case 'C':
			check = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			fprintf(stderr, "vigil-open: see --help\n");
			return EXIT_USAGE;
		}
	}
	if (keygen_path != NULL) {
		if (n_sk > 0 || print_pk || partial || check || out_dir != NULL || optind != argc) {
			fprintf(stderr, "vigil-open: --keygen takes only the new key file (see --help)\n");
			return EXIT_USAGE;
		}
		return keygen(keygen_path);
	}
	if (n_sk == 0 || (optind == argc) != print_pk) {
		const char *why = n_sk == 0  ? "no --secret-key (or --keygen) given"
				  : print_pk ? "--public-key takes no segments"
					     : "no segment given";

		fprintf(stderr, "vigil-open: %s (see --help)\n", why);
		return EXIT_USAGE;
	}
	if (out_dir != NULL) {
		struct stat st;

		if (stat(out_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
			fprintf(stderr, "vigil-open: --out %s: not a directory\n", out_dir);
			return EXIT_USAGE;
		}
	}
	keys.sk = sodium_allocarray(n_sk, VIGIL_SEAL_KEY_BYTES);
	if (keys.sk == NULL) {
		fprintf(stderr, "vigil-open: out of memory\n");
		return EXIT_USAGE;
	}
	for (; keys.n < n_sk; keys.n++)
		if (load_secret_key(sk_path[keys.n], keys.sk + keys.n * VIGIL_SEAL_KEY_BYTES) < 0) {
			sodium_free(keys.sk);
			return EXIT_USAGE;
		}
	for (unsigned i = 0; print_pk && i < keys.n; i++) {
		uint8_t pk[VIGIL_SEAL_KEY_BYTES];
		char pk64[VIGIL_SEAL_KEY_B64_BYTES];

		if (crypto_scalarmult_base(pk, keys.sk + i * VIGIL_SEAL_KEY_BYTES) != 0) {
			fprintf(stderr, "vigil-open: secret key %s: not a usable X25519 key\n", sk_path[i]);
			rc = EXIT_USAGE;
		} else {
			vigil_seal_key_encode(pk, pk64);
			printf("%s\n", pk64);
		}
	}
	for (int i = optind; i < argc; i++) {
		struct stat st;
		bool folder = stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode);

		if ((folder ? open_folder(argv[i], &keys, partial, out_dir, check)
			    : open_segment(argv[i], &keys, partial, out_dir, check, NULL)) < 0)
			rc = EXIT_REFUSED;
	}
	sodium_free(keys.sk);
	if (fflush(stdout) != 0) {
		fprintf(stderr, "vigil-open: stdout: %s\n", strerror(errno));
		rc = rc ? rc : EXIT_REFUSED;
	}
	return rc;
}
