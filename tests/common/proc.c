// What every test program may use about processes.
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
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

long status_kb(pid_t pid, const char *field)
{
	char path[64], line[256];
	long kb = -1;
	if (pid == 0) {
		snprintf(path, sizeof(path), "/proc/self/status");
	} else {
		snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
	}
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "%s", path);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, field, strlen(field)) == 0) {
			kb = strtol(line + strlen(field), NULL, 10);
		}
	}
	fclose(f);
	return (kb);
}

bool peak_reset(void)
{
	FILE *f = fopen("/proc/self/clear_refs", "w");
	if (f == NULL) {
		return (false);
	}
	fputs("5", f);
	fclose(f);
	return (true);
}
