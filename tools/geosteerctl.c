/*
 * geosteerctl — the operator's client for geosteerd's control socket.
 *
 * It sends one command line, reads one reply line (a JSON object, see
 * include/control.h for the protocol) and prints it: raw with --json,
 * otherwise as text an operator reads (a table for health, key: value
 * lines for status, the trace for explain).
 *
 * It is deliberately standalone: plain sockets, and a small JSON reader
 * (a recursive-descent parser into a tree, depth-limited, that rejects
 * anything malformed) instead of linking the daemon.  The reply is untrusted
 * input like any other: a bad or truncated reply is reported, never
 * crashes the tool.
 *
 * Exit status: 0 when the reply says "ok": true, 1 when it says false (the
 * error is printed on stderr), 2 when the daemon cannot be reached, the
 * reply is unreadable, or the command line is wrong.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define CTL_DEFAULT_SOCKET "run/geosteerd.sock"
#define CTL_LINE_MAX 4096 /* the daemon's CONTROL_LINE_MAX */
#define CTL_REPLY_MAX (4 * 1024 * 1024)
#define CTL_TIMEOUT_MS 60000 /* a reload may take a while */
#define CTL_JSON_DEPTH 32

/* ---- a minimal JSON reader ---- */

enum ctl_json_type {
	CTL_JSON_NULL,
	CTL_JSON_BOOL,
	CTL_JSON_NUMBER,
	CTL_JSON_STRING,
	CTL_JSON_ARRAY,
	CTL_JSON_OBJECT
};

struct ctl_json {
	enum ctl_json_type type;
	bool boolean;
	char *text;             /* STRING: unescaped; NUMBER: as written */
	struct ctl_json *items; /* ARRAY, OBJECT: the values */
	char **keys;            /* OBJECT: the keys, parallel to items */
	size_t count;
};

struct ctl_parser {
	const char *p, *end;
	int depth;
};

static void ctl_json_free(struct ctl_json *v)
{
	for (size_t i = 0; i < v->count; i++) {
		ctl_json_free(&v->items[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	free(v->text);
}

static void ctl_skip_space(struct ctl_parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static int ctl_hex4(const char *p, const char *end, unsigned *out)
{
	if (end - p < 4)
		return -1;
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static size_t ctl_utf8_put(char *out, unsigned cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Parses a string at ps->p (on the opening quote) into a new buffer. */
static char *ctl_parse_string(struct ctl_parser *ps)
{
	ps->p++; /* the quote */
	/* The unescaped text is never longer than the escaped one. */
	const char *close = ps->p;
	while (close < ps->end && *close != '"')
		close += *close == '\\' && close + 1 < ps->end ? 2 : 1;
	if (close >= ps->end)
		return NULL;
	char *out = malloc((size_t)(close - ps->p) + 1);
	if (!out)
		return NULL;
	size_t n = 0;
	while (ps->p < close) {
		unsigned char c = (unsigned char)*ps->p++;
		if (c < 0x20)
			goto bad;
		if (c != '\\') {
			out[n++] = (char)c;
			continue;
		}
		char e = *ps->p++;
		unsigned cp;
		switch (e) {
		case '"':
		case '\\':
		case '/':
			out[n++] = e;
			break;
		case 'b':
			out[n++] = '\b';
			break;
		case 'f':
			out[n++] = '\f';
			break;
		case 'n':
			out[n++] = '\n';
			break;
		case 'r':
			out[n++] = '\r';
			break;
		case 't':
			out[n++] = '\t';
			break;
		case 'u':
			if (ctl_hex4(ps->p, close, &cp) < 0)
				goto bad;
			ps->p += 4;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				unsigned lo;
				if (close - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u' ||
				    ctl_hex4(ps->p + 2, close, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
					goto bad;
				ps->p += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			} else if (cp >= 0xdc00 && cp <= 0xdfff) {
				goto bad;
			}
			/* \uXXXX is 6 bytes, its UTF-8 at most 3; a pair is 12 bytes for 4. */
			n += ctl_utf8_put(out + n, cp);
			break;
		default:
			goto bad;
		}
	}
	out[n] = '\0';
	ps->p = close + 1;
	return out;
bad:
	free(out);
	return NULL;
}

static int ctl_parse_value(struct ctl_parser *ps, struct ctl_json *v);

static int ctl_parse_container(struct ctl_parser *ps, struct ctl_json *v, bool object)
{
	char closing = object ? '}' : ']';
	v->type = object ? CTL_JSON_OBJECT : CTL_JSON_ARRAY;
	if (++ps->depth > CTL_JSON_DEPTH)
		return -1;
	ps->p++;
	ctl_skip_space(ps);
	if (ps->p < ps->end && *ps->p == closing) {
		ps->p++;
		ps->depth--;
		return 0;
	}
	size_t cap = 0;
	for (;;) {
		if (v->count == cap) {
			cap = cap ? cap * 2 : 8;
			struct ctl_json *items = realloc(v->items, cap * sizeof(*items));
			if (!items)
				return -1;
			v->items = items;
			if (object) {
				char **keys = realloc(v->keys, cap * sizeof(*keys));
				if (!keys)
					return -1;
				v->keys = keys;
			}
		}
		char *key = NULL;
		ctl_skip_space(ps);
		if (object) {
			if (ps->p >= ps->end || *ps->p != '"' || !(key = ctl_parse_string(ps)))
				return -1;
			ctl_skip_space(ps);
			if (ps->p >= ps->end || *ps->p != ':') {
				free(key);
				return -1;
			}
			ps->p++;
		}
		struct ctl_json *item = &v->items[v->count];
		memset(item, 0, sizeof(*item));
		if (object)
			v->keys[v->count] = key;
		v->count++; /* counted now so a failure below frees it */
		if (ctl_parse_value(ps, item) < 0)
			return -1;
		ctl_skip_space(ps);
		if (ps->p >= ps->end)
			return -1;
		if (*ps->p == ',') {
			ps->p++;
			continue;
		}
		if (*ps->p != closing)
			return -1;
		ps->p++;
		ps->depth--;
		return 0;
	}
}

static bool ctl_match(struct ctl_parser *ps, const char *word)
{
	size_t n = strlen(word);
	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
		return false;
	ps->p += n;
	return true;
}

static int ctl_parse_value(struct ctl_parser *ps, struct ctl_json *v)
{
	ctl_skip_space(ps);
	if (ps->p >= ps->end)
		return -1;
	char c = *ps->p;
	if (c == '{' || c == '[')
		return ctl_parse_container(ps, v, c == '{');
	if (c == '"') {
		v->type = CTL_JSON_STRING;
		v->text = ctl_parse_string(ps);
		return v->text ? 0 : -1;
	}
	if (ctl_match(ps, "true") || ctl_match(ps, "false")) {
		v->type = CTL_JSON_BOOL;
		v->boolean = c == 't';
		return 0;
	}
	if (ctl_match(ps, "null")) {
		v->type = CTL_JSON_NULL;
		return 0;
	}
	const char *start = ps->p;
	while (ps->p < ps->end && *ps->p && strchr("-+.eE0123456789", *ps->p))
		ps->p++;
	if (ps->p == start || ps->p - start > 64)
		return -1;
	v->type = CTL_JSON_NUMBER;
	v->text = strndup(start, (size_t)(ps->p - start));
	return v->text ? 0 : -1;
}

/* Parses exactly one JSON value from text (surrounding spaces allowed). */
static int ctl_json_parse(const char *text, size_t len, struct ctl_json *out)
{
	struct ctl_parser ps = {.p = text, .end = text + len};
	memset(out, 0, sizeof(*out));
	ps.depth = 0;
	if (ctl_parse_value(&ps, out) == 0) {
		ctl_skip_space(&ps);
		if (ps.p == ps.end)
			return 0;
	}
	ctl_json_free(out);
	memset(out, 0, sizeof(*out));
	return -1;
}

static const struct ctl_json *ctl_get(const struct ctl_json *obj, const char *key)
{
	if (!obj || obj->type != CTL_JSON_OBJECT)
		return NULL;
	for (size_t i = 0; i < obj->count; i++)
		if (strcmp(obj->keys[i], key) == 0)
			return &obj->items[i];
	return NULL;
}

/* A scalar as text for printing ("-" when absent or not a scalar). */
static const char *ctl_text(const struct ctl_json *obj, const char *key)
{
	const struct ctl_json *v = ctl_get(obj, key);
	if (!v)
		return "-";
	switch (v->type) {
	case CTL_JSON_STRING:
	case CTL_JSON_NUMBER:
		return v->text;
	case CTL_JSON_BOOL:
		return v->boolean ? "true" : "false";
	default:
		return "-";
	}
}

static bool ctl_true(const struct ctl_json *obj, const char *key)
{
	const struct ctl_json *v = ctl_get(obj, key);
	return v && v->type == CTL_JSON_BOOL && v->boolean;
}

/* ---- printing ---- */

static int ctl_width(const char *s)
{
	size_t n = strlen(s);
	return n > 200 ? 200 : (int)n;
}

static void ctl_print_health(const struct ctl_json *reply)
{
	const struct ctl_json *dcs = ctl_get(reply, "datacenters");
	if (!dcs || dcs->type != CTL_JSON_ARRAY || dcs->count == 0) {
		printf("no datacenters\n");
		return;
	}
	int w_name = 4, w_state = 5, w_admin = 5, w_since = 5;
	for (size_t i = 0; i < dcs->count; i++) {
		const struct ctl_json *d = &dcs->items[i];
		int n = ctl_width(ctl_text(d, "name"));
		w_name = n > w_name ? n : w_name;
		n = ctl_width(ctl_text(d, "admin"));
		w_admin = n > w_admin ? n : w_admin;
		n = ctl_width(ctl_text(d, "since"));
		w_since = n > w_since ? n : w_since;
	}
	printf("%-*s  %-*s  %-*s  %-*s  %s\n", w_name, "NAME", w_state, "STATE", w_admin, "ADMIN", w_since,
	       "SINCE", "REASON");
	for (size_t i = 0; i < dcs->count; i++) {
		const struct ctl_json *d = &dcs->items[i];
		const char *reason = ctl_text(d, "reason");
		printf("%-*.200s  %-*s  %-*.200s  %-*.200s  %s\n", w_name, ctl_text(d, "name"), w_state,
		       ctl_true(d, "up") ? "up" : "down", w_admin, ctl_text(d, "admin"), w_since,
		       ctl_text(d, "since"), *reason ? reason : "-");
	}
}

static void ctl_print_status(const struct ctl_json *reply)
{
	printf("version: %s\n", ctl_text(reply, "version"));
	printf("uptime: %ss\n", ctl_text(reply, "uptime_s"));
	printf("config: %s\n", ctl_text(reply, "config"));
	printf("config sha256: %s\n", ctl_text(reply, "config_sha256"));
	printf("generation: %s\n", ctl_text(reply, "generation"));
	const struct ctl_json *zones = ctl_get(reply, "zones");
	size_t count = zones && zones->type == CTL_JSON_ARRAY ? zones->count : 0;
	printf("zones: %zu\n", count);
	for (size_t i = 0; i < count; i++)
		printf("zone: %s serial %s\n", ctl_text(&zones->items[i], "origin"),
		       ctl_text(&zones->items[i], "serial"));
}

/* An object of NAME: count as an indented two-column table under a title. */
static void ctl_print_counts(const char *title, const struct ctl_json *obj)
{
	printf("%s:\n", title);
	if (!obj || obj->type != CTL_JSON_OBJECT || obj->count == 0) {
		printf("  -\n");
		return;
	}
	int w = 4;
	for (size_t i = 0; i < obj->count; i++) {
		int n = ctl_width(obj->keys[i]);
		w = n > w ? n : w;
	}
	for (size_t i = 0; i < obj->count; i++)
		printf("  %-*.200s  %12s\n", w, obj->keys[i],
		       obj->items[i].type == CTL_JSON_NUMBER ? obj->items[i].text : "-");
}

static void ctl_print_stats(const struct ctl_json *reply)
{
	const struct ctl_json *q = ctl_get(reply, "queries");
	printf("uptime: %ss\n", ctl_text(reply, "uptime_s"));
	printf("queries: udp %s, tcp %s\n", ctl_text(q, "udp"), ctl_text(q, "tcp"));
	printf("truncated: %s  ecs: %s  dropped: %s\n", ctl_text(reply, "truncated"), ctl_text(reply, "ecs"),
	       ctl_text(reply, "dropped"));
	printf("rate-limited: %s not sent, %s sent truncated\n", ctl_text(reply, "rate_limited"),
	       ctl_text(reply, "rate_limit_slipped"));
	printf("fail-open answers: %s  fenced answers: %s\n", ctl_text(reply, "fail_open"),
	       ctl_text(reply, "fenced"));
	printf("reloads: %s  failed: %s\n", ctl_text(reply, "reloads"), ctl_text(reply, "reload_failures"));
	ctl_print_counts("by qtype", ctl_get(reply, "qtype"));
	ctl_print_counts("by rcode", ctl_get(reply, "rcode"));
	ctl_print_counts("by policy record", ctl_get(reply, "policies"));
	ctl_print_counts("by datacenter", ctl_get(reply, "datacenters"));
}

static void ctl_print(const char *cmd, const struct ctl_json *reply)
{
	if (strcmp(cmd, "health") == 0) {
		ctl_print_health(reply);
	} else if (strcmp(cmd, "status") == 0) {
		ctl_print_status(reply);
	} else if (strcmp(cmd, "stats") == 0) {
		ctl_print_stats(reply);
	} else if (strcmp(cmd, "explain") == 0) {
		const char *text = ctl_text(reply, "explain");
		size_t n = strlen(text);
		fputs(text, stdout);
		if (n && text[n - 1] != '\n')
			putchar('\n');
	} else if (strcmp(cmd, "reload") == 0) {
		printf("reloaded: generation %s\n", ctl_text(reply, "generation"));
	} else if (ctl_get(reply, "datacenter")) {
		printf("%s: admin %s, now %s\n", ctl_text(reply, "datacenter"), ctl_text(reply, "admin"),
		       ctl_true(reply, "up") ? "up" : "down");
	} else {
		printf("ok\n");
	}
}

/* ---- talking to the daemon ---- */

static int ctl_connect(const char *path)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "geosteerctl: cannot connect to %s: %s\n", path, strerror(ENAMETOOLONG));
		return -1;
	}
	memcpy(addr.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		fprintf(stderr, "geosteerctl: cannot connect to %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int ctl_send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads up to the first newline; returns the line (without it) or NULL. */
static char *ctl_read_line(int fd, const char *path, size_t *len_out)
{
	size_t cap = 8192, len = 0;
	char *buf = malloc(cap);
	if (!buf)
		return NULL;
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int r = poll(&pfd, 1, CTL_TIMEOUT_MS);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			fprintf(stderr, "geosteerctl: no reply from %s within %d s\n", path,
			        CTL_TIMEOUT_MS / 1000);
			break;
		}
		if (len == cap) {
			if (cap >= CTL_REPLY_MAX) {
				fprintf(stderr, "geosteerctl: reply from %s too long\n", path);
				break;
			}
			char *bigger = realloc(buf, cap * 2);
			if (!bigger)
				break;
			buf = bigger;
			cap *= 2;
		}
		ssize_t n = recv(fd, buf + len, cap - len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "geosteerctl: reading from %s: %s\n", path, strerror(errno));
			break;
		}
		if (n == 0) {
			fprintf(stderr, "geosteerctl: %s closed the connection without a reply\n", path);
			break;
		}
		char *nl = memchr(buf + len, '\n', (size_t)n);
		len += (size_t)n;
		if (nl) {
			*nl = '\0';
			*len_out = (size_t)(nl - buf);
			return buf;
		}
	}
	free(buf);
	return NULL;
}

static void ctl_usage(FILE *out)
{
	fprintf(out, "usage: geosteerctl [-s SOCKET] [--json] COMMAND\n"
	             "  status                   version, uptime, config, zones\n"
	             "  health                   state of every datacenter\n"
	             "  stats                    query, answer and steering counters\n"
	             "  drain DC                 take a datacenter out of answers\n"
	             "  undrain DC               clear drain / force-up\n"
	             "  force-up DC              answer with DC whatever its probes say\n"
	             "  explain IP NAME [TYPE]   how NAME is answered for client IP\n"
	             "  reload                   re-read config and zones\n"
	             "  -s SOCKET                control socket (default " CTL_DEFAULT_SOCKET ")\n"
	             "  --json                   print the raw JSON reply\n");
}

/* Arguments, minimum and maximum, per command. */
static bool ctl_arity_ok(const char *cmd, int n)
{
	static const struct {
		const char *name;
		int min, max;
	} commands[] = {
	    {"status", 0, 0},  {"health", 0, 0},   {"stats", 0, 0},   {"reload", 0, 0},  {"drain", 1, 1},
	    {"undrain", 1, 1}, {"force-up", 1, 1}, {"explain", 2, 3},
	};
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(cmd, commands[i].name) == 0)
			return n >= commands[i].min && n <= commands[i].max;
	return false;
}

int main(int argc, char **argv)
{
	const char *path = CTL_DEFAULT_SOCKET;
	bool json = false;
	int i = 1;
	for (; i < argc; i++) {
		if (strcmp(argv[i], "-s") == 0 && i + 1 < argc) {
			path = argv[++i];
		} else if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			ctl_usage(stdout);
			return 0;
		} else if (argv[i][0] == '-') {
			ctl_usage(stderr);
			return 2;
		} else {
			break;
		}
	}
	if (i >= argc || !ctl_arity_ok(argv[i], argc - i - 1)) {
		ctl_usage(stderr);
		return 2;
	}
	const char *cmd = argv[i];

	/* One line, arguments separated by single spaces: an argument with a
	 * space or a control character in it could not be told apart. */
	char line[CTL_LINE_MAX + 2];
	size_t len = 0;
	for (int k = i; k < argc; k++) {
		size_t n = strlen(argv[k]);
		for (size_t j = 0; j < n; j++) {
			if ((unsigned char)argv[k][j] <= ' ' || argv[k][j] == 0x7f) {
				fprintf(stderr,
				        "geosteerctl: argument '%s' has a space or control character\n",
				        argv[k]);
				return 2;
			}
		}
		if (len + n + 2 > CTL_LINE_MAX) {
			fprintf(stderr, "geosteerctl: command too long\n");
			return 2;
		}
		if (k > i)
			line[len++] = ' ';
		memcpy(line + len, argv[k], n);
		len += n;
	}
	line[len++] = '\n';

	int fd = ctl_connect(path);
	if (fd < 0)
		return 2;
	int send_errno = ctl_send_all(fd, line, len) < 0 ? errno : 0;
	size_t reply_len = 0;
	/* A daemon that turns the connection away (too many clients) writes
	 * why and closes before our command is in: read that, and say it. */
	char *reply = ctl_read_line(fd, path, &reply_len);
	close(fd);
	if (send_errno != 0) {
		struct ctl_json refusal;
		if (reply && ctl_json_parse(reply, reply_len, &refusal) == 0) {
			const char *why = ctl_text(&refusal, "error");
			fprintf(stderr, "geosteerctl: %s: %s\n", path, why && why[0] ? why : "refused the connection");
			ctl_json_free(&refusal);
		} else {
			fprintf(stderr, "geosteerctl: sending to %s: %s\n", path, strerror(send_errno));
		}
		free(reply);
		return 2;
	}
	if (!reply)
		return 2;

	struct ctl_json doc;
	bool readable = ctl_json_parse(reply, reply_len, &doc) == 0;
	const struct ctl_json *okv = ctl_get(&doc, "ok");
	if (!readable || !okv || okv->type != CTL_JSON_BOOL) {
		fprintf(stderr, "geosteerctl: unreadable reply from %s\n", path);
		ctl_json_free(&doc);
		free(reply);
		return 2;
	}
	bool ok = ctl_true(&doc, "ok");
	if (json)
		printf("%s\n", reply);
	else if (ok)
		ctl_print(cmd, &doc);
	else
		fprintf(stderr, "geosteerctl: %s\n", ctl_text(&doc, "error"));
	ctl_json_free(&doc);
	free(reply);
	return ok ? 0 : 1;
}
