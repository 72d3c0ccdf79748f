/*
 * The C side of stevedore's plugin ABI (version 1): what a plugin library exports so that a Rust program
 * using the `stevedore` crate (feature `dynamic`) can load it. The contract itself — who frees what, what
 * is checked first, threading — is written in the documentation of `stevedore::dynamic`.
 *
 * A library exports `const stevedore_plugin_table *stevedore_plugins(void)` (or another name given in a
 * plugin manifest) returning a table that lives as long as the process.
 */
#ifndef STEVEDORE_PLUGIN_H
#define STEVEDORE_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* "STEVEDOR" in ASCII, the first 8 bytes of every table. */
#define STEVEDORE_ABI_MAGIC UINT64_C(0x5354455645444F52)
#define STEVEDORE_ABI_VERSION 1u

/* 0 and *out_obj set on success; non-zero and optionally *out_error (freed with free_string) on failure. */
typedef int32_t (*stevedore_create_fn)(const void *plugin_data, const char *args_json, void **out_obj,
                                       char **out_error);
/* 0 and *out_json set (a JSON document) on success; non-zero and optionally *out_error on failure. */
typedef int32_t (*stevedore_call_fn)(void *obj, const char *method, const char *input_json,
                                     char **out_json, char **out_error);
typedef void (*stevedore_destroy_fn)(void *obj);
typedef void (*stevedore_free_string_fn)(char *s);

typedef struct {
    const char *namespace_name; /* NUL-terminated UTF-8 */
    const char *name;
    const char *target;         /* for people: what the plugin is */
    const void *plugin_data;    /* passed back to create, may be NULL */
    stevedore_create_fn create;
    stevedore_call_fn call;
    stevedore_destroy_fn destroy;
} stevedore_plugin_descriptor;

typedef struct {
    uint64_t magic;       /* STEVEDORE_ABI_MAGIC */
    uint32_t abi_version; /* STEVEDORE_ABI_VERSION */
    uint32_t table_size;  /* sizeof(stevedore_plugin_table) */
    size_t plugin_count;
    const stevedore_plugin_descriptor *plugins;
    stevedore_free_string_fn free_string;
} stevedore_plugin_table;

#ifdef __cplusplus
}
#endif

#endif /* STEVEDORE_PLUGIN_H */
