/* Replays a fuzz corpus through a libFuzzer entry point without libFuzzer,
 * so that every corpus file runs as an ordinary test (under the sanitizer
 * build too). Arguments: files or directories (not recursive). */
#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf;
	long len;

	if (!fp) {
		perror(path);
		return -1;
	}
	if (fseek(fp, 0, SEEK_END) || (len = ftell(fp)) < 0 || fseek(fp, 0, SEEK_SET)) {
		perror(path);
		fclose(fp);
		return -1;
	}
	buf = malloc((size_t)len + 1);
	if (!buf || fread(buf, 1, (size_t)len, fp) != (size_t)len) {
		fprintf(stderr, "%s: read failed\n", path);
		free(buf);
		fclose(fp);
		return -1;
	}
	fclose(fp);
	LLVMFuzzerTestOneInput(buf, (size_t)len);
	free(buf);
	return 0;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
	size_t ran = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;
		DIR *d;
		struct dirent *de;
		char **names = NULL;
		size_t n = 0;

		if (stat(argv[i], &st)) {
			perror(argv[i]);
			return 2;
		}
		if (!S_ISDIR(st.st_mode)) {
			if (run_file(argv[i]))
				return 2;
			ran++;
			continue;
		}
		d = opendir(argv[i]);
		if (!d) {
			perror(argv[i]);
			return 2;
		}
		while ((de = readdir(d))) {
			char *p;
			if (de->d_name[0] == '.')
				continue;
			p = malloc(strlen(argv[i]) + strlen(de->d_name) + 2);
			names = realloc(names, (n + 1) * sizeof *names);
			if (!p || !names)
				abort();
			sprintf(p, "%s/%s", argv[i], de->d_name);
			names[n++] = p;
		}
		closedir(d);
		qsort(names, n, sizeof *names, cmp);
		for (size_t j = 0; j < n; j++) {
			if (run_file(names[j]))
				return 2;
			ran++;
			free(names[j]);
		}
		free(names);
	}
	printf("replayed %zu inputs\n", ran);
	return ran ? 0 : 1;
}
