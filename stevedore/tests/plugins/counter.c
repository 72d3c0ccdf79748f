/* A plugin library written in C against include/stevedore_plugin.h: one plugin, `c.counters:counter`,
 * whose objects count up from the `start` keyword argument. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stevedore_plugin.h"

typedef struct {
    long next;
} counter;

static char *copy(const char *s) {
    char *out = malloc(strlen(s) + 1);
    if (out) strcpy(out, s);
    return out;
}

static int32_t create(const void *plugin_data, const char *args_json, void **out_obj, char **out_error) {
    (void)plugin_data;
    counter *c = malloc(sizeof *c);
    if (!c) {
        *out_error = copy("out of memory");
        return 1;
    }
    const char *start = strstr(args_json, "\"start\":");
    c->next = start ? strtol(start + 8, NULL, 10) : 0;
    *out_obj = c;
    return 0;
}

static int32_t call(void *obj, const char *method, const char *input_json, char **out_json,
                    char **out_error) {
    (void)input_json;
    counter *c = obj;
    char buf[64];
    if (strcmp(method, "next") == 0) {
        snprintf(buf, sizeof buf, "%ld", c->next++);
        *out_json = copy(buf);
        return 0;
    }
    snprintf(buf, sizeof buf, "no method `%.40s`", method);
    *out_error = copy(buf);
    return 1;
}

static void destroy(void *obj) { free(obj); }

static void free_string(char *s) { free(s); }

static const stevedore_plugin_descriptor plugins[] = {
    {"c.counters", "counter", "counter.c:counter", NULL, create, call, destroy},
};

static const stevedore_plugin_table table = {
    STEVEDORE_ABI_MAGIC, STEVEDORE_ABI_VERSION, sizeof(stevedore_plugin_table), 1, plugins, free_string,
};

const stevedore_plugin_table *stevedore_plugins(void) { return &table; }
