/*
 * espintcp-shim: a userspace stand-in for the Linux espintcp ULP (CONFIG_INET_ESPINTCP), which
 * the lab's kernel lacks. Loaded into pluto with LD_PRELOAD by run-scenario (IKE_TCP=yes).
 *
 * pluto asks the kernel for setsockopt(TCP_ULP, "espintcp") once the IKETCP prefix has gone; from
 * then on the kernel frames every message pluto writes with the RFC 8229 2-byte length (which
 * counts itself) and hands pluto one message per read, length removed. This does the same in
 * pluto's process, so the bytes on the wire are those of a kernel with espintcp. ESP never
 * passes here: the lab kernel has no ESP at all.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef TCP_ULP
#define TCP_ULP 31
#endif
#define MAX_FD 4096
#define MAX_FRAME 65535

struct stream {
	unsigned char in[MAX_FRAME];
	size_t have;
};
static struct stream *streams[MAX_FD];
static unsigned char out[MAX_FRAME];

static struct stream *framed(int fd)
{
	return fd >= 0 && fd < MAX_FD ? streams[fd] : NULL;
}

int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	static int (*real)(int, int, int, const void *, socklen_t);
	if (!real)
		real = (int (*)(int, int, int, const void *, socklen_t))dlsym(RTLD_NEXT, "setsockopt");
	if (level == IPPROTO_TCP && name == TCP_ULP && val != NULL && len >= 8 &&
	    memcmp(val, "espintcp", 8) == 0 && fd >= 0 && fd < MAX_FD) {
		if (streams[fd] == NULL)
			streams[fd] = calloc(1, sizeof(struct stream));
		if (streams[fd] == NULL) {
			errno = ENOMEM;
			return -1;
		}
		streams[fd]->have = 0;
		return 0;
	}
	return real(fd, level, name, val, len);
}

ssize_t write(int fd, const void *buf, size_t n)
{
	static ssize_t (*real)(int, const void *, size_t);
	if (!real)
		real = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
	if (framed(fd) == NULL || n + 2 > MAX_FRAME)
		return real(fd, buf, n);
	out[0] = (unsigned char)((n + 2) >> 8);
	out[1] = (unsigned char)((n + 2) & 0xff);
	memcpy(out + 2, buf, n);
	size_t done = 0;
	while (done < n + 2) {
		ssize_t w = real(fd, out + done, n + 2 - done);
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			continue; /* one IKE message: the socket drains at once */
		if (w < 0)
			return -1;
		done += (size_t)w;
	}
	return (ssize_t)n;
}

static ssize_t (*real_read)(int, void *, size_t);

static ssize_t read_message(int fd, struct stream *s, void *buf, size_t n)
{
	for (;;) {
		if (s->have >= 2) {
			size_t len = (size_t)s->in[0] << 8 | s->in[1];
			if (len < 2) {
				errno = EPROTO;
				return -1;
			}
			if (s->have >= len) {
				size_t m = len - 2 < n ? len - 2 : n;
				memcpy(buf, s->in + 2, m);
				memmove(s->in, s->in + len, s->have - len);
				s->have -= len;
				return (ssize_t)m;
			}
		}
		ssize_t r = real_read(fd, s->in + s->have, sizeof(s->in) - s->have);
		if (r <= 0)
			return r; /* EOF, EAGAIN or an error, as the kernel says it */
		s->have += (size_t)r;
	}
}

ssize_t read(int fd, void *buf, size_t n)
{
	if (!real_read)
		real_read = (ssize_t (*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
	struct stream *s = framed(fd);
	return s == NULL ? real_read(fd, buf, n) : read_message(fd, s, buf, n);
}

/* pluto is built with _FORTIFY_SOURCE: its reads into fixed buffers come here */
ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	(void)buflen;
	return read(fd, buf, n);
}

int close(int fd)
{
	static int (*real)(int);
	if (!real)
		real = (int (*)(int))dlsym(RTLD_NEXT, "close");
	struct stream *s = framed(fd);
	if (s != NULL) {
		free(s);
		streams[fd] = NULL;
	}
	return real(fd);
}
