/*
 * fuzz_control — libFuzzer target for the control socket's commands: the
 * input is what a client sends, cut into lines at "\n" as a connection
 * does (the last line without its newline too, as at end of input), and
 * each line is answered by control_answer, the socket's own per-line
 * entry point, against the store example (geosteer.yaml with its fixtures,
 * fuzz_make_fixtures) built and published once at start.
 *
 * The hooks are the daemon's: reload rebuilds the example and publishes it
 * (server_reload without probes; the first reload of an input only, later
 * ones answer the current generation, to keep inputs fast), explain runs
 * explain_query on the current snapshot.  Administrative overrides are
 * cleared before each input, so inputs do not depend on one another.
 *
 * Checked with abort(): a blank line gets no answer and any other line
 * exactly one, which must be one valid JSON object (no newline, strings
 * escaped, UTF-8 valid) starting {"ok":true or {"ok":false,"error":.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "control.h"
#include "explain.h"
#include "fuzz_common.h"
#include "health.h"
#include "log.h"
#include "policy.h"
#include "server.h"
#include "snapshot.h"
#include "stats.h"

static char *config_path;
static char config_sha256[65];
static bool reloaded; /* this input has had its reload */


/* server_reload without the probes. */
static int fuzz_build(uint64_t *generation, char *err, size_t errlen)
{
	struct config cfg;
	if (config_load(config_path, &cfg, err, errlen) < 0)
		return -1;
	struct snapshot *snap;
	if (snapshot_build(&cfg, &snap, err, errlen) < 0) {
		config_free(&cfg);
		server_release_health_slots();
		return -1;
	}
	snapshot_publish(snap);
	server_release_health_slots();
	memcpy(config_sha256, cfg.sha256, sizeof config_sha256);
	*generation = snap->generation;
	config_free(&cfg);
	return 0;
}

static int fuzz_hook_reload(void *ctx, uint64_t *generation, char *err, size_t errlen)
{
	(void)ctx;
	if (reloaded) {
		*generation = snapshot_current()->generation;
		return 0;
	}
	reloaded = true;
	return fuzz_build(generation, err, errlen);
}

static int fuzz_hook_explain(void *ctx, const char *client_ip, const char *name, const char *type, char *out,
                             size_t outlen)
{
	(void)ctx;
	return explain_query(snapshot_current(), client_ip, name, type, out, outlen);
}

static const struct control_hooks hooks = {
    .version = "fuzz",
    .config_sha256 = config_sha256,
    .reload = fuzz_hook_reload,
    .explain = fuzz_hook_explain,
};
static struct control_hooks live_hooks;

static void fuzz_init(void)
{
	log_set_level(LOG_ERROR);
	fuzz_make_fixtures(fuzz_tmpdir());
	const char *root = getenv("GEOSTEER_FUZZ_ROOT");
	char cmd[1024];
	config_path = strdup(fuzz_tmp_path("control.yaml"));
	snprintf(cmd, sizeof cmd, "cp '%s/geosteer.yaml' '%s'", root ? root : ".", config_path);
	if (system(cmd) != 0)
		abort();
	uint64_t generation;
	char err[1024];
	if (fuzz_build(&generation, err, sizeof err) < 0) {
		fprintf(stderr, "fuzz_control: %s\n", err);
		abort();
	}
	live_hooks = hooks;
	live_hooks.config_path = config_path;
}

/* ---- a JSON checker: RFC 8259, one value, nothing after it ---- */

static const char *json_value(const char *p, int depth);

static const char *json_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	return p;
}

static const char *json_string(const char *p)
{
	if (*p++ != '"')
		return NULL;
	for (;;) {
		unsigned char c = (unsigned char)*p;
		if (c == '"')
			return p + 1;
		if (c < 0x20)
			return NULL;
		if (c == '\\') {
			p++;
			if (*p == 'u') {
				for (int i = 1; i <= 4; i++)
					if (!strchr("0123456789abcdefABCDEF", p[i]) || p[i] == '\0')
						return NULL;
				p += 5;
			} else if (*p && strchr("\"\\/bfnrt", *p)) {
				p++;
			} else {
				return NULL;
			}
			continue;
		}
		/* UTF-8: the lead byte says how many continuation bytes follow */
		int more = c < 0x80             ? 0
		           : (c & 0xe0) == 0xc0 ? 1
		           : (c & 0xf0) == 0xe0 ? 2
		           : (c & 0xf8) == 0xf0 ? 3
		                                : -1;
		if (more < 0 || (more == 1 && c < 0xc2))
			return NULL;
		p++;
		for (int i = 0; i < more; i++, p++)
			if (((unsigned char)*p & 0xc0) != 0x80)
				return NULL;
	}
}

static const char *json_number(const char *p)
{
	const char *s = p;
	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (*p >= '0' && *p <= '9')
			p++;
	else
		return NULL;
	if (*p == '.') {
		p++;
		if (!(*p >= '0' && *p <= '9'))
			return NULL;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!(*p >= '0' && *p <= '9'))
			return NULL;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return p > s ? p : NULL;
}

static const char *json_container(const char *p, int depth, char close, bool keys)
{
	p = json_ws(p + 1);
	if (*p == close)
		return p + 1;
	for (;;) {
		if (keys) {
			p = json_string(json_ws(p));
			if (p == NULL || *(p = json_ws(p)) != ':')
				return NULL;
			p++;
		}
		p = json_value(p, depth + 1);
		if (p == NULL)
			return NULL;
		p = json_ws(p);
		if (*p == close)
			return p + 1;
		if (*p++ != ',')
			return NULL;
	}
}

static const char *json_value(const char *p, int depth)
{
	if (depth > 32)
		return NULL;
	p = json_ws(p);
	switch (*p) {
	case '{':
		return json_container(p, depth, '}', true);
	case '[':
		return json_container(p, depth, ']', false);
	case '"':
		return json_string(p);
	case 't':
		return strncmp(p, "true", 4) == 0 ? p + 4 : NULL;
	case 'f':
		return strncmp(p, "false", 5) == 0 ? p + 5 : NULL;
	case 'n':
		return strncmp(p, "null", 4) == 0 ? p + 4 : NULL;
	default:
		return json_number(p);
	}
}

static void fuzz_check_answer(const char *line, size_t len, const char *reply)
{
	/* blank: only blanks (a CR before the newline dropped), no NUL */
	size_t n = len && line[len - 1] == '\r' ? len - 1 : len;
	bool blank = memchr(line, '\0', len) == NULL;
	for (size_t i = 0; i < n && blank; i++)
		blank = line[i] == ' ' || line[i] == '\t';
	if (blank != (reply == NULL)) {
		fprintf(stderr, "fuzz_control: %s line, %s\n", blank ? "blank" : "command",
		        reply ? "answered" : "no answer");
		abort();
	}
	if (reply == NULL)
		return;
	const char *end = json_value(reply, 0);
	if (end == NULL || *end != '\0' || strchr(reply, '\n') != NULL ||
	    (strncmp(reply, "{\"ok\":true", 10) != 0 &&
	     strncmp(reply, "{\"ok\":false,\"error\":\"", 21) != 0)) {
		fprintf(stderr, "fuzz_control: not one JSON object: %s\n", reply);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (config_path == NULL)
		fuzz_init();
	for (int slot = 0; slot < HEALTH_MAX_SLOTS; slot++)
		health_set_admin(slot, HEALTH_ADMIN_NONE);
	reloaded = false;

	const char *p = (const char *)data, *end = p + size;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)((nl ? nl : end) - p);
		char *reply = control_answer(&live_hooks, p, len);
		fuzz_check_answer(p, len, reply);
		free(reply);
		p += len + 1;
	}
	return 0;
}
