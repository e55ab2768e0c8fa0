/*
 * main — geosteerd's command line: load the config, build the first
 * snapshot, publish it and hand over to the server; or, with --check, stop
 * after building and say whether the configuration is good; or, with
 * --explain IP NAME [TYPE], print how NAME is answered for that client
 * (explain.h) and stop.
 *
 * Every startup error is one line, "FILE:LINE: message", and exit status 1,
 * so a deploy script can show it as it is.
 */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "config.h"
#include "control.h"
#include "explain.h"
#include "log.h"
#include "server.h"
#include "snapshot.h"
#include "version.h"
#include "zone.h"

static void usage(FILE *out)
{
	fprintf(out, "usage: geosteerd [-c FILE] [--check | --explain IP NAME [TYPE]] [-v] [--version] [-h]\n"
	             "  -c, --config FILE  configuration (default ./geosteer.yaml)\n"
	             "      --check        load the configuration and zones, report, exit\n"
	             "      --explain IP NAME [TYPE]\n"
	             "                     how NAME (TYPE, default A) is answered for client IP\n"
	             "  -v, --verbose      log debug messages\n"
	             "      --version      print the version\n"
	             "  -h, --help         this text\n");
}

/* Raises the open-file limit to its hard limit: every health probe in
 * flight holds a socket beside the TCP and control connections, and the
 * usual soft limit of 1024 runs out with a few hundred black-holed
 * targets (a probe that cannot get a socket is skipped, not failed, but
 * TCP clients would be turned away).  What NSD and Knot administrators set
 * with LimitNOFILE, done here so a plain start gets it too. */
static void main_raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max)
		return;
	rlim_t was = rl.rlim_cur;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		log_warn("cannot raise the open-file limit from %llu (%s)", (unsigned long long)was, strerror(errno));
	else
		log_debug("open-file limit raised from %llu to %llu", (unsigned long long)was,
		          (unsigned long long)rl.rlim_cur);
}

static size_t main_record_count(const struct zone_table *zones)
{
	size_t n = 0;
	for (size_t i = 0; i < zone_table_count(zones); i++)
		n += zone_table_at(zones, i)->rr_count;
	return n;
}

int main(int argc, char **argv)
{
	enum { OPT_CHECK = 256, OPT_VERSION, OPT_EXPLAIN };
	static const struct option options[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"check", no_argument, NULL, OPT_CHECK},
	    {"verbose", no_argument, NULL, 'v'},
	    {"version", no_argument, NULL, OPT_VERSION},
	    {"help", no_argument, NULL, 'h'},
	    {"explain", no_argument, NULL, OPT_EXPLAIN},
	    {NULL, 0, NULL, 0},
	};
	const char *path = "geosteer.yaml";

	/* Loading a large zone frees and grows big arrays at the top of the
	 * heap over and over; with glibc's default trim threshold every free
	 * gave memory back to the kernel and the next growth asked for it
	 * again, and a 1,000,000-record zone spent two thirds of its load time
	 * in brk() (11.7 s against 1.8 s without trimming).  Keep the freed top
	 * of the heap during a build; snapshot_build() trims once at the end. */
	mallopt(M_TRIM_THRESHOLD, 512 << 20);
	mallopt(M_TOP_PAD, 64 << 20);
	int check = 0;
	int explain = 0;
	int opt;
	while ((opt = getopt_long(argc, argv, "c:vh", options, NULL)) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case OPT_CHECK:
			check = 1;
			break;
		case OPT_EXPLAIN:
			explain = 1;
			break;
		case 'v':
			log_set_level(LOG_DEBUG);
			break;
		case OPT_VERSION:
			printf("geosteerd %s\n", GEOSTEER_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	/* --explain takes IP NAME [TYPE] as its operands. */
	int operands = argc - optind;
	if (explain && (operands < 2 || operands > 3)) {
		fprintf(stderr, "geosteerd: --explain needs IP NAME [TYPE]\n");
		usage(stderr);
		return 1;
	}
	if (!explain && operands > 0) {
		fprintf(stderr, "geosteerd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 1;
	}

	struct config cfg;
	char err[1024];
	if (config_load(path, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	struct snapshot *snap;
	if (snapshot_build(&cfg, &snap, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		config_free(&cfg);
		return 1;
	}
	size_t zone_count = zone_table_count(snap->zones);
	size_t record_count = main_record_count(snap->zones);

	if (explain) {
		static char text[CONTROL_EXPLAIN_MAX];
		int rc = explain_query(snap, argv[optind], argv[optind + 1],
		                       operands == 3 ? argv[optind + 2] : NULL, text, sizeof text);
		if (rc == 0)
			fputs(text, stdout);
		else
			fprintf(stderr, "geosteerd: %s\n", text);
		snapshot_free(snap);
		config_free(&cfg);
		return rc == 0 ? 0 : 1;
	}

	if (check) {
		printf("%s: ok (%zu zone%s, %zu records)\n", path, zone_count, zone_count == 1 ? "" : "s", record_count);
		snapshot_free(snap);
		config_free(&cfg);
		return 0;
	}

	main_raise_nofile();
	snapshot_publish(snap); /* server_run logs "serving ..." once its sockets are bound */
	int rc = server_run(&cfg);
	snapshot_shutdown();
	config_free(&cfg);
	if (rc == 0)
		log_info("stopped");
	return rc == 0 ? 0 : 1;
}
