/*
** Modules: loading, reference counting, and what they declare.
*/
#include "wasm/wasm_int.h"

const char *wg_version(void) { return "0.1.0"; }

const char *wg_valtype_name(int type) {
  switch (type) {
    case WG_I32: return "i32";
    case WG_I64: return "i64";
    case WG_F32: return "f32";
    case WG_F64: return "f64";
    case WG_V128: return "v128";
    case WG_FUNCREF: return "funcref";
    case WG_EXTERNREF: return "externref";
    default: return "unknown";
  }
}

wg_module *wg_module_load(const uint8_t *bytes, size_t len, wg_error *err) {
  wg_error local;
  if (!err) err = &local;
  wg_error_clear(err);
  if (!bytes && len) {
    wg_error_set(err, WG_EINVAL, "no bytes");
    return NULL;
  }
  if (len > UINT32_MAX) {
    wg_error_set(err, WG_EIMPLIMIT, "module larger than 4 GiB");
    return NULL;
  }
  wgw_ops_init();
  wg_module *m = wg_new(wg_module);
  if (!m) {
    wg_error_set(err, WG_ENOMEM, NULL);
    return NULL;
  }
  atomic_init(&m->refs, 1);
  m->start = -1;
  m->bytes = wg_alloc_array(len, 1);
  if (!m->bytes) {
    wg_free_obj(m);
    wg_error_set(err, WG_ENOMEM, NULL);
    return NULL;
  }
  if (len) memcpy(m->bytes, bytes, len);
  m->size = len;
  if (wgw_decode(m, err) || wgw_validate(m, err)) {
    wgw_module_free(m);
    return NULL;
  }
  return m;
}

void wg_module_retain(wg_module *m) { atomic_fetch_add(&m->refs, 1); }

void wg_module_release(wg_module *m) {
  if (m && atomic_fetch_sub(&m->refs, 1) == 1) wgw_module_free(m);
}

void wgw_module_free(wg_module *m) {
  for (uint32_t i = 0; i < m->ntypes; i++)
    wg_free(m->types[i].vt, (size_t)m->types[i].nparams + m->types[i].nresults);
  wg_free_array(m->types, m->ntypes);
  wg_free_array(m->imports, m->nimports);
  wg_free_array(m->func_types, m->nfuncs);
  if (m->funcs)
    for (uint32_t i = 0; i < m->nfuncs - m->nfunc_imports; i++)
      wg_free(m->funcs[i].local_types, m->funcs[i].nlocals);
  wg_free_array(m->funcs, m->nfuncs - m->nfunc_imports);
  wg_free_array(m->tables, m->ntables);
  wg_free_array(m->mems, m->nmems);
  wg_free_array(m->globals, m->nglobals);
  wg_free_array(m->exports, m->nexports);
  if (m->elems)
    for (uint32_t i = 0; i < m->nelems; i++) {
      wg_free_array(m->elems[i].funcs, m->elems[i].count);
      wg_free_array(m->elems[i].items, m->elems[i].count);
    }
  wg_free_array(m->elems, m->nelems);
  wg_free_array(m->datas, m->ndatas);
  wg_free(m->declared_funcs, m->nfuncs / 8 + 1);
  wg_free_array(m->customs, m->ncustoms);
  wg_free_array(m->func_names, m->nfuncs);
  wg_free_array(m->code, m->ncode);
  wg_free_array(m->trapsites, m->ntrapsites);
  wg_free(m->bytes, m->size);
  wg_free_obj(m);
}

static wg_externtype type_of(const wg_module *m, uint8_t kind, uint32_t index) {
  wg_externtype t;
  memset(&t, 0, sizeof t);
  t.kind = (wg_externkind)kind;
  switch (kind) {
    case WG_EXTERN_FUNC:
      t.of.func = wgw_functype(m, m->func_types[index]);
      break;
    case WG_EXTERN_TABLE:
      t.of.table.elem = m->tables[index].elem;
      t.of.table.limits = m->tables[index].lim;
      break;
    case WG_EXTERN_MEMORY:
      t.of.memory.limits = m->mems[index].lim;
      break;
    default:
      t.of.global.type = m->globals[index].type;
      t.of.global.mut = m->globals[index].mut;
      break;
  }
  return t;
}

uint32_t wg_module_import_count(const wg_module *m) { return m->nimports; }

wg_import_desc wg_module_import(const wg_module *m, uint32_t i) {
  const wgw_import *im = &m->imports[i];
  wg_import_desc d = {im->module, im->name, type_of(m, im->kind, im->index)};
  return d;
}

uint32_t wg_module_export_count(const wg_module *m) { return m->nexports; }

wg_export_desc wg_module_export(const wg_module *m, uint32_t i) {
  const wgw_export *x = &m->exports[i];
  wg_export_desc d = {x->name, type_of(m, x->kind, x->index), x->index};
  return d;
}

uint32_t wg_module_memory_count(const wg_module *m) { return m->nmems; }
wg_externtype wg_module_memory(const wg_module *m, uint32_t i) {
  return type_of(m, WG_EXTERN_MEMORY, i);
}
uint32_t wg_module_table_count(const wg_module *m) { return m->ntables; }
wg_externtype wg_module_table(const wg_module *m, uint32_t i) {
  return type_of(m, WG_EXTERN_TABLE, i);
}
uint32_t wg_module_global_count(const wg_module *m) { return m->nglobals; }
wg_externtype wg_module_global(const wg_module *m, uint32_t i) {
  return type_of(m, WG_EXTERN_GLOBAL, i);
}
uint32_t wg_module_func_count(const wg_module *m) { return m->nfuncs; }
wg_functype wg_module_func_type(const wg_module *m, uint32_t funcidx) {
  return wgw_functype(m, m->func_types[funcidx]);
}

wg_name wg_module_func_name(const wg_module *m, uint32_t funcidx) {
  if (!m->func_names || funcidx >= m->nfuncs) return (wg_name){NULL, 0};
  return m->func_names[funcidx];
}

uint32_t wg_module_custom_count(const wg_module *m) { return m->ncustoms; }

wg_name wg_module_custom(const wg_module *m, uint32_t i, const uint8_t **data,
                         size_t *len) {
  const wgw_custom *c = &m->customs[i];
  if (data) *data = m->bytes + c->off;
  if (len) *len = c->len;
  return c->name;
}

size_t wg_module_size(const wg_module *m) { return m->size; }
const uint8_t *wg_module_bytes(const wg_module *m) { return m->bytes; }
