/* What a model path names: a GGUF file, or a Hugging Face folder with
 * config.json and *.safetensors. Looks at the file system and the first
 * four bytes of a file, nothing more. */
#ifndef TSR_CORE_MODEL_PATH_H
#define TSR_CORE_MODEL_PATH_H

#include "tessera/error.h"

typedef enum tsr_model_format {
    TSR_MODEL_FORMAT_UNKNOWN = 0,     /* missing or not a model */
    TSR_MODEL_FORMAT_GGUF = 1,        /* a file starting with the GGUF magic */
    TSR_MODEL_FORMAT_SAFETENSORS = 2, /* a folder with config.json and *.safetensors */
} tsr_model_format;

/* Sets *format, or fails: TSR_ERR_NOT_FOUND (no such path), TSR_ERR_IO
 * (cannot be read), TSR_ERR_FORMAT (neither a GGUF file nor a model folder),
 * TSR_ERR_NOMEM. The message starts with the path and says what a model is. */
tsr_status tsr_model_probe(const char *path, tsr_model_format *format, tsr_error *err);

/* "gguf", "safetensors", "unknown". */
const char *tsr_model_format_name(tsr_model_format format);

#endif
