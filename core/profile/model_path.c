/* Telling a GGUF file from a safetensors folder, and both from a mistake. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model_path.h"

static const char *const what_a_model_is =
    "a model is a .gguf file or a folder with config.json and *.safetensors";

static bool has_safetensors(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return false;
    bool found = false;
    struct dirent *entry;
    while (!found && (entry = readdir(d))) {
        size_t n = strlen(entry->d_name);
        found = n > 12 && strcmp(entry->d_name + n - 12, ".safetensors") == 0;
    }
    closedir(d);
    return found;
}

static tsr_status probe_folder(const char *path, tsr_model_format *format, tsr_error *err)
{
    char *config = NULL;
    if (asprintf(&config, "%s/config.json", path) < 0)
        return tsr_error_set(err, TSR_ERR_NOMEM, "out of memory");
    struct stat st;
    bool has_config = stat(config, &st) == 0 && S_ISREG(st.st_mode);
    free(config);
    bool has_weights = has_safetensors(path);
    if (has_config && has_weights) {
        *format = TSR_MODEL_FORMAT_SAFETENSORS;
        return TSR_OK;
    }
    return tsr_error_set(err, TSR_ERR_FORMAT, "%s: the folder holds no %s%s%s; %s", path,
                         has_config ? "" : "config.json",
                         has_config || has_weights ? "" : " and no ",
                         has_weights ? "" : "*.safetensors", what_a_model_is);
}

tsr_status tsr_model_probe(const char *path, tsr_model_format *format, tsr_error *err)
{
    *format = TSR_MODEL_FORMAT_UNKNOWN;
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return tsr_error_set(err, TSR_ERR_NOT_FOUND, "%s: no such file or folder", path);
        return tsr_error_set(err, TSR_ERR_IO, "%s: %s", path, strerror(errno));
    }
    if (S_ISDIR(st.st_mode))
        return probe_folder(path, format, err);
    if (!S_ISREG(st.st_mode))
        return tsr_error_set(err, TSR_ERR_FORMAT, "%s: neither a file nor a folder; %s", path,
                             what_a_model_is);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tsr_error_set(err, TSR_ERR_IO, "%s: cannot read it: %s", path, strerror(errno));
    unsigned char magic[4] = {0};
    ssize_t got = read(fd, magic, sizeof magic);
    close(fd);
    if (got != 4 || memcmp(magic, "GGUF", 4) != 0)
        return tsr_error_set(err, TSR_ERR_FORMAT,
                             "%s: not a GGUF file (it does not start with the GGUF magic); %s",
                             path, what_a_model_is);
    *format = TSR_MODEL_FORMAT_GGUF;
    return TSR_OK;
}

const char *tsr_model_format_name(tsr_model_format format)
{
    switch (format) {
    case TSR_MODEL_FORMAT_GGUF: return "gguf";
    case TSR_MODEL_FORMAT_SAFETENSORS: return "safetensors";
    default: return "unknown";
    }
}
