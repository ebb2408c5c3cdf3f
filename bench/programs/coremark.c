/*
** coremark: a mixed workload in the spirit of EEMBC CoreMark (written here,
** not derived from its source). Each iteration runs four kernels on data
** seeded from the iteration number and chains their results through a
** CRC-16:
**   list   a linked list in a node pool: search, reverse, merge sort;
**   matrix 16-bit matrices: add/scale, matrix-vector, matrix-matrix, bits;
**   state  a character-class state machine scanning a numeric text;
**   crc    CRC-16/CCITT, bit at a time, over every kernel's result.
*/
#include <string.h>

#include "bench.h"

/* ---- CRC-16/CCITT (polynomial 0x1021), bitwise ---- */

static uint16_t crc16_byte(uint16_t crc, uint8_t b) {
  crc ^= (uint16_t)(b << 8);
  for (int i = 0; i < 8; i++)
    crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021)
                         : (uint16_t)(crc << 1);
  return crc;
}

static uint16_t crc16_u32(uint16_t crc, uint32_t v) {
  for (int i = 0; i < 4; i++) crc = crc16_byte(crc, (uint8_t)(v >> (8 * i)));
  return crc;
}

/* ---- list ---- */

#define NODES 400

typedef struct node {
  struct node *next;
  int16_t value;
  uint16_t id;
} node;

static node pool[NODES];

static node *list_build(uint32_t seed) {
  node *head = NULL;
  for (int i = NODES - 1; i >= 0; i--) {
    pool[i].value = (int16_t)(bench_rand(&seed) & 0x7fff);
    pool[i].id = (uint16_t)i;
    pool[i].next = head;
    head = &pool[i];
  }
  return head;
}

static node *list_find(node *p, int16_t value) {
  while (p && p->value != value) p = p->next;
  return p;
}

static node *list_reverse(node *p) {
  node *prev = NULL;
  while (p) {
    node *next = p->next;
    p->next = prev;
    prev = p;
    p = next;
  }
  return prev;
}

typedef int (*node_cmp)(const node *a, const node *b);
static int by_value(const node *a, const node *b) {
  return a->value != b->value ? a->value - b->value : a->id - b->id;
}
static int by_id(const node *a, const node *b) { return a->id - b->id; }

/* Bottom-up merge sort of a singly linked list; stable. */
static node *list_sort(node *list, node_cmp cmp) {
  for (size_t width = 1;; width *= 2) {
    node *p = list, *tail = NULL;
    list = NULL;
    int merges = 0;
    while (p) {
      merges++;
      node *q = p;
      size_t psize = 0;
      for (size_t i = 0; i < width && q; i++, psize++) q = q->next;
      size_t qsize = width;
      while (psize > 0 || (qsize > 0 && q)) {
        node *e;
        if (psize == 0) {
          e = q; q = q->next; qsize--;
        } else if (qsize == 0 || !q || cmp(p, q) <= 0) {
          e = p; p = p->next; psize--;
        } else {
          e = q; q = q->next; qsize--;
        }
        if (tail) tail->next = e; else list = e;
        tail = e;
      }
      p = q;
    }
    tail->next = NULL;
    if (merges <= 1) return list;
  }
}

static uint16_t bench_list(uint16_t crc, uint32_t seed) {
  node *head = list_build(seed);
  uint32_t found = 0, missed = 0;
  for (int k = 0; k < 32; k++) {
    uint32_t pick = ((uint32_t)k * 37u + seed) % NODES;
    node *hit = list_find(head, pool[pick].value);
    if (hit) found += hit->id; else missed++;
    if (!list_find(head, (int16_t)(k * 1000 + 1))) missed++;
    if (k % 8 == 0) head = list_reverse(head);
  }
  head = list_sort(head, by_value);
  for (node *p = head; p; p = p->next)
    crc = crc16_u32(crc, (uint32_t)p->value);
  head = list_sort(head, by_id);
  crc = crc16_u32(crc, found);
  crc = crc16_u32(crc, missed);
  return crc16_u32(crc, head->id);
}

/* ---- matrix ---- */

#define MN 24

static int16_t ma[MN][MN], mb[MN][MN];
static int32_t mc[MN][MN];

static uint16_t bench_matrix(uint16_t crc, uint32_t seed) {
  for (int i = 0; i < MN; i++)
    for (int j = 0; j < MN; j++) {
      ma[i][j] = (int16_t)((bench_rand(&seed) & 0xff) - 128);
      mb[i][j] = (int16_t)((bench_rand(&seed) & 0xff) - 128);
    }
  int16_t k = (int16_t)(seed & 0x3f);
  for (int i = 0; i < MN; i++)
    for (int j = 0; j < MN; j++) ma[i][j] = (int16_t)(ma[i][j] + k);
  /* matrix * vector */
  int32_t acc = 0;
  for (int i = 0; i < MN; i++) {
    int32_t s = 0;
    for (int j = 0; j < MN; j++) s += ma[i][j] * mb[j][0];
    acc += s;
  }
  crc = crc16_u32(crc, (uint32_t)acc);
  /* matrix * matrix */
  for (int i = 0; i < MN; i++)
    for (int j = 0; j < MN; j++) {
      int32_t s = 0;
      for (int l = 0; l < MN; l++) s += ma[i][l] * mb[l][j];
      mc[i][j] = s;
    }
  /* bit extraction over the products */
  uint32_t bits = 0;
  for (int i = 0; i < MN; i++)
    for (int j = 0; j < MN; j++) {
      uint32_t v = (uint32_t)mc[i][j];
      bits += ((v >> 2) & 0xf) * ((v >> 5) & 0x7f);
      if (mc[i][j] > 0) bits ^= v;
    }
  crc = crc16_u32(crc, bits);
  return crc16_u32(crc, (uint32_t)mc[MN - 1][MN - 1]);
}

/* ---- state machine ---- */

typedef enum { S_START, S_INT, S_SIGN, S_FLOAT, S_EXP, S_EXPSIGN, S_SCI,
               S_BAD, S_COUNT } state;

#define TEXT 2048
static char text[TEXT];

/* Writes comma-separated tokens: integers, decimals, scientific, junk. */
static void make_text(uint32_t seed) {
  static const char *const forms[] = {"5012", "-190", "+3.25", "0.5e-9",
                                      "7E+12", "12x4", "--3", "1.2.3",
                                      "-0.001", "999e9", "abc", "4e"};
  size_t n = 0;
  while (n + 12 < TEXT) {
    const char *f = forms[bench_rand(&seed) % 12];
    size_t len = strlen(f);
    memcpy(text + n, f, len);
    n += len;
    text[n++] = ',';
  }
  text[n] = '\0';
}

static state next_state(state s, char c) {
  int digit = c >= '0' && c <= '9';
  switch (s) {
  case S_START:
    if (digit) return S_INT;
    if (c == '+' || c == '-') return S_SIGN;
    if (c == '.') return S_FLOAT;
    return S_BAD;
  case S_SIGN:
    if (digit) return S_INT;
    if (c == '.') return S_FLOAT;
    return S_BAD;
  case S_INT:
    if (digit) return S_INT;
    if (c == '.') return S_FLOAT;
    if (c == 'e' || c == 'E') return S_EXP;
    return S_BAD;
  case S_FLOAT:
    if (digit) return S_FLOAT;
    if (c == 'e' || c == 'E') return S_EXP;
    return S_BAD;
  case S_EXP:
    if (c == '+' || c == '-') return S_EXPSIGN;
    if (digit) return S_SCI;
    return S_BAD;
  case S_EXPSIGN:
  case S_SCI:
    return digit ? S_SCI : S_BAD;
  default:
    return S_BAD;
  }
}

static uint16_t bench_state(uint16_t crc, uint32_t seed) {
  uint32_t finals[S_COUNT] = {0}, transitions = 0;
  make_text(seed);
  state s = S_START;
  for (const char *p = text; *p; p++) {
    if (*p == ',') {
      finals[s]++;
      s = S_START;
      continue;
    }
    state t = next_state(s, *p);
    transitions += t != s;
    s = t;
  }
  for (int i = 0; i < S_COUNT; i++) crc = crc16_u32(crc, finals[i]);
  return crc16_u32(crc, transitions);
}

int main(int argc, char **argv) {
  long iterations = bench_work(argc, argv, 1500);
  uint16_t crc = 0xffff;
  uint32_t h = BENCH_HASH_INIT;
  for (long it = 0; it < iterations; it++) {
    uint32_t seed = 0x3c6ef372u ^ (uint32_t)(it * 2654435761u);
    if (seed == 0) seed = 1;
    crc = bench_list(crc, seed);
    crc = bench_matrix(crc, seed);
    crc = bench_state(crc, seed);
    h = bench_mix(h, crc);
  }
  return bench_report(h);
}
