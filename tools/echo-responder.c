/*
 * echo-responder — the ceiling of the benchmark: a UDP "server" that does
 * no DNS work at all.  It takes packets in batches with recvmmsg(), sets
 * the QR bit of each and sends them straight back with one sendmmsg().  No
 * DNS server can answer faster on the same machine, socket and batching,
 * so tools/bench reports every server as a fraction of this figure; what
 * is left between a server and the echo is the cost of its DNS work.
 *
 *   echo-responder [-a ADDR] -p PORT [-b BATCH]
 *
 * It binds a loopback address only (default 127.0.0.1), runs in one thread
 * (pin it with taskset) and stops on SIGTERM or SIGINT.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ECHO_MAX_BATCH 256
#define ECHO_BUF 4096

static volatile sig_atomic_t echo_stop;

static void echo_on_signal(int sig)
{
	(void)sig;
	echo_stop = 1;
}

static uint8_t echo_buf[ECHO_MAX_BATCH][ECHO_BUF];
static struct sockaddr_storage echo_peer[ECHO_MAX_BATCH];
static struct iovec echo_iov[ECHO_MAX_BATCH];
static struct mmsghdr echo_msg[ECHO_MAX_BATCH];

int main(int argc, char **argv)
{
	const char *addr = "127.0.0.1";
	long port = 0, batch = 32;
	int c;
	while ((c = getopt(argc, argv, "a:p:b:h")) != -1) {
		switch (c) {
		case 'a':
			addr = optarg;
			break;
		case 'p':
			port = strtol(optarg, NULL, 10);
			break;
		case 'b':
			batch = strtol(optarg, NULL, 10);
			break;
		default:
			fprintf(stderr, "usage: echo-responder [-a LOOPBACK-ADDR] -p PORT [-b BATCH 1..%d]\n",
			        ECHO_MAX_BATCH);
			return c == 'h' ? 0 : 2;
		}
	}
	if (port <= 0 || port > 65535 || batch < 1 || batch > ECHO_MAX_BATCH) {
		fprintf(stderr, "echo-responder: -p PORT (1..65535) and -b BATCH (1..%d) needed\n",
		        ECHO_MAX_BATCH);
		return 2;
	}
	struct sockaddr_storage ss;
	socklen_t sslen;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, addr, &in->sin_addr) == 1 && (ntohl(in->sin_addr.s_addr) >> 24) == 127) {
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		sslen = sizeof(*in);
	} else if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1 && IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr)) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		sslen = sizeof(*in6);
	} else {
		fprintf(stderr, "echo-responder: '%s' is not a loopback address\n", addr);
		return 2;
	}
	int fd = socket(ss.ss_family, SOCK_DGRAM, 0);
	int buf = 4 << 20;
	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, sslen) < 0) {
		fprintf(stderr, "echo-responder: %s port %ld: %s\n", addr, port, strerror(errno));
		return 1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));

	/* No SA_RESTART: a signal must interrupt the blocking recvmmsg(). */
	struct sigaction sa = {.sa_handler = echo_on_signal};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	for (int i = 0; i < ECHO_MAX_BATCH; i++) {
		echo_iov[i].iov_base = echo_buf[i];
		echo_msg[i].msg_hdr.msg_iov = &echo_iov[i];
		echo_msg[i].msg_hdr.msg_iovlen = 1;
	}
	while (!echo_stop) {
		for (int i = 0; i < batch; i++) {
			echo_iov[i].iov_len = ECHO_BUF;
			echo_msg[i].msg_hdr.msg_name = &echo_peer[i];
			echo_msg[i].msg_hdr.msg_namelen = sizeof(echo_peer[i]);
		}
		/* Block for the first packet, then take whatever else is queued:
		 * the same shape as a DNS server's receive loop. */
		int n = recvmmsg(fd, echo_msg, (unsigned)batch, MSG_WAITFORONE, NULL);
		if (n <= 0) {
			if (n < 0 && errno != EINTR && errno != EAGAIN) {
				fprintf(stderr, "echo-responder: recvmmsg: %s\n", strerror(errno));
				return 1;
			}
			continue;
		}
		for (int i = 0; i < n; i++) {
			echo_iov[i].iov_len = echo_msg[i].msg_len;
			if (echo_msg[i].msg_len >= 3)
				echo_buf[i][2] |= 0x80; /* QR: this is a response */
		}
		int done = 0;
		while (done < n) {
			int r = sendmmsg(fd, echo_msg + done, (unsigned)(n - done), 0);
			if (r <= 0) {
				if (r < 0 && errno == EINTR && !echo_stop)
					continue;
				break; /* a reply lost is a reply lost: never spin on it */
			}
			done += r;
		}
	}
	close(fd);
	return 0;
}
