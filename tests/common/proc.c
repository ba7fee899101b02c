// What every test program may use about processes.
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include "tests/common/proc.h"

bool pid_alive(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		return (false);
	}
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	// The state follows the command name, which may hold spaces.
	const char *p = strrchr(buf, ')');
	return (p != NULL && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X');
}

int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int  n = 0;
	cr_assert_not_null(d);
	while (readdir(d) != NULL) {
		n++;
	}
	closedir(d);
	return (n - 3); // ".", ".." and the directory itself
}

int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}
