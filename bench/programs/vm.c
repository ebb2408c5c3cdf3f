/*
** vm: an interpreter inside the interpreter. A small register machine
** (16 registers, 32-bit words, a word-addressed memory and a return stack)
** with a switch dispatch loop runs two guest programs assembled at start-up:
** a prime sieve and a Collatz walk that calls a subroutine.
*/
#include "bench.h"

enum {
  OP_HALT, OP_LI,   OP_LUI,  OP_MOV,  OP_ADD,  OP_SUB,  OP_MUL, OP_AND,
  OP_OR,   OP_XOR,  OP_SHL,  OP_SHR,  OP_ADDI, OP_SHRI, OP_LD,  OP_ST,
  OP_JMP,  OP_JZ,   OP_JNZ,  OP_JLT,  OP_JGE,  OP_CALL, OP_RET,
};

/* An instruction is op | a << 8 | b << 16 | c << 24, or, for LI, LUI and
** the jumps, op | a << 8 | imm16 << 16 (jumps: relative to the next
** instruction; JLT/JGE a b: b in bits 16-19, offset in bits 20-31). */
#define MEM_WORDS 32768
#define MAX_CODE 256
#define RSTACK 64

typedef struct vm {
  uint32_t r[16];
  uint32_t mem[MEM_WORDS];
  uint32_t code[MAX_CODE];
  uint32_t ncode;
  uint64_t steps;       /* instructions executed */
} vm;

static vm machine;

static uint32_t emit(vm *m, uint32_t op, uint32_t a, uint32_t b, uint32_t c) {
  m->code[m->ncode] = op | a << 8 | b << 16 | c << 24;
  return m->ncode++;
}
static uint32_t emit_i(vm *m, uint32_t op, uint32_t a, int32_t imm) {
  m->code[m->ncode] = op | a << 8 | (uint32_t)(uint16_t)imm << 16;
  return m->ncode++;
}
/* A jump at pc to target (fixed up once the target is known). */
static void patch_j(vm *m, uint32_t pc, uint32_t target) {
  int32_t off = (int32_t)target - (int32_t)(pc + 1);
  uint32_t op = m->code[pc] & 0xff;
  if (op == OP_JLT || op == OP_JGE)
    m->code[pc] = (m->code[pc] & 0xfffffu) | (uint32_t)(off & 0xfff) << 20;
  else
    m->code[pc] = (m->code[pc] & 0xffffu) | (uint32_t)(uint16_t)off << 16;
}
static uint32_t emit_j(vm *m, uint32_t op, uint32_t a, uint32_t b,
                       uint32_t target) {
  uint32_t pc = emit(m, op, a, b & 15, 0);
  patch_j(m, pc, target);
  return pc;
}

static uint32_t run(vm *m, uint32_t entry) {
  uint32_t *r = m->r, *mem = m->mem;
  const uint32_t *code = m->code;
  uint32_t rstack[RSTACK];
  uint32_t sp = 0, pc = entry;
  uint64_t steps = 0;
  for (;;) {
    uint32_t ins = code[pc++];
    uint32_t a = (ins >> 8) & 15, b = (ins >> 16) & 15, c = ins >> 24;
    int32_t imm = (int16_t)(ins >> 16);
    int32_t off12 = (int32_t)ins >> 20;
    steps++;
    switch (ins & 0xff) {
    case OP_HALT: m->steps += steps; return r[0];
    case OP_LI:   r[a] = (uint32_t)imm; break;
    case OP_LUI:  r[a] = (uint32_t)(uint16_t)imm << 16 | (r[a] & 0xffff);
                  break;
    case OP_MOV:  r[a] = r[b]; break;
    case OP_ADD:  r[a] = r[b] + r[c & 15]; break;
    case OP_SUB:  r[a] = r[b] - r[c & 15]; break;
    case OP_MUL:  r[a] = r[b] * r[c & 15]; break;
    case OP_AND:  r[a] = r[b] & r[c & 15]; break;
    case OP_OR:   r[a] = r[b] | r[c & 15]; break;
    case OP_XOR:  r[a] = r[b] ^ r[c & 15]; break;
    case OP_SHL:  r[a] = r[b] << (r[c & 15] & 31); break;
    case OP_SHR:  r[a] = r[b] >> (r[c & 15] & 31); break;
    case OP_ADDI: r[a] = r[b] + (uint32_t)(int32_t)(int8_t)c; break;
    case OP_SHRI: r[a] = r[b] >> (c & 31); break;
    case OP_LD:   r[a] = mem[(r[b] + c) % MEM_WORDS]; break;
    case OP_ST:   mem[(r[b] + c) % MEM_WORDS] = r[a]; break;
    case OP_JMP:  pc += (uint32_t)imm; break;
    case OP_JZ:   if (r[a] == 0) pc += (uint32_t)imm; break;
    case OP_JNZ:  if (r[a] != 0) pc += (uint32_t)imm; break;
    case OP_JLT:  if (r[a] < r[b]) pc += (uint32_t)off12; break;
    case OP_JGE:  if (r[a] >= r[b]) pc += (uint32_t)off12; break;
    case OP_CALL:
      if (sp == RSTACK) return 0xdead0001u;
      rstack[sp++] = pc;
      pc += (uint32_t)imm;
      break;
    case OP_RET:
      if (sp == 0) return 0xdead0002u;
      pc = rstack[--sp];
      break;
    default: return 0xdead0000u;
    }
  }
}

/* Sieve of Eratosthenes below r1; r0 = number of primes, r8 = a hash of
** the sieve. Registers: r2 i, r3 j, r5 tmp, r6 one, r7 FNV prime, r9 zero. */
static uint32_t asm_sieve(vm *m) {
  uint32_t entry = m->ncode;
  emit_i(m, OP_LI, 2, 0);
  emit_i(m, OP_LI, 6, 1);
  emit_i(m, OP_LI, 9, 0);
  uint32_t clear = emit(m, OP_ST, 6, 2, 0);
  emit(m, OP_ADDI, 2, 2, 1);
  emit_j(m, OP_JLT, 2, 1, clear);
  emit_i(m, OP_LI, 0, 0);
  emit_i(m, OP_LI, 2, 2);
  uint32_t outer = emit(m, OP_LD, 5, 2, 0);
  uint32_t jz_next = emit_i(m, OP_JZ, 5, 0);
  emit(m, OP_ADDI, 0, 0, 1);
  emit(m, OP_MUL, 3, 2, 2);
  uint32_t jge_next = emit_j(m, OP_JGE, 3, 1, 0);
  uint32_t inner = emit(m, OP_ST, 9, 3, 0);
  emit(m, OP_ADD, 3, 3, 2);
  emit_j(m, OP_JLT, 3, 1, inner);
  uint32_t next = emit(m, OP_ADDI, 2, 2, 1);
  patch_j(m, jz_next, next);
  patch_j(m, jge_next, next);
  emit_j(m, OP_JLT, 2, 1, outer);
  /* hash: r8 = (r8 ^ mem[i]) * 0x01000193 over i < r1 */
  emit_i(m, OP_LI, 7, 0x0193);
  emit_i(m, OP_LUI, 7, 0x0100);
  emit_i(m, OP_LI, 8, 0x1c9d);
  emit_i(m, OP_LUI, 8, (int16_t)0x811c);
  emit_i(m, OP_LI, 2, 0);
  uint32_t hash = emit(m, OP_LD, 5, 2, 0);
  emit(m, OP_ADD, 5, 5, 2);
  emit(m, OP_XOR, 8, 8, 5);
  emit(m, OP_MUL, 8, 8, 7);
  emit(m, OP_ADDI, 2, 2, 1);
  emit_j(m, OP_JLT, 2, 1, hash);
  emit(m, OP_HALT, 0, 0, 0);
  return entry;
}

/* Sum of Collatz path lengths (each walk takes at least one step) for the
** start values r1 .. r1 + r4 - 1, one subroutine call per start value;
** result in r0. */
static uint32_t asm_collatz(vm *m) {
  uint32_t entry = m->ncode;
  emit_i(m, OP_LI, 0, 0);
  emit_i(m, OP_LI, 6, 1);
  emit(m, OP_ADD, 4, 4, 1);          /* r4 = end */
  uint32_t loop = emit(m, OP_MOV, 2, 1, 0);
  uint32_t call = emit_i(m, OP_CALL, 0, 0);
  emit(m, OP_ADD, 0, 0, 3);
  emit(m, OP_ADDI, 1, 1, 1);
  emit_j(m, OP_JLT, 1, 4, loop);
  emit(m, OP_HALT, 0, 0, 0);
  /* subroutine: r3 = steps for r2 to reach 1 */
  uint32_t sub = emit_i(m, OP_LI, 3, 0);
  patch_j(m, call, sub);
  uint32_t step = emit(m, OP_AND, 5, 2, 6);
  uint32_t jodd = emit_i(m, OP_JNZ, 5, 0);
  emit(m, OP_SHRI, 2, 2, 1);
  uint32_t jdone = emit_i(m, OP_JMP, 0, 0);
  uint32_t odd = emit(m, OP_ADD, 5, 2, 2);
  patch_j(m, jodd, odd);
  emit(m, OP_ADD, 2, 5, 2);
  emit(m, OP_ADDI, 2, 2, 1);
  uint32_t done = emit(m, OP_ADDI, 3, 3, 1);
  patch_j(m, jdone, done);
  emit(m, OP_SUB, 5, 2, 6);
  emit_i(m, OP_JNZ, 5, (int32_t)step - (int32_t)(m->ncode + 1));
  emit(m, OP_RET, 0, 0, 0);
  return entry;
}

int main(int argc, char **argv) {
  long rounds = bench_work(argc, argv, 25);
  vm *m = &machine;
  uint32_t sieve = asm_sieve(m);
  uint32_t collatz = asm_collatz(m);
  uint32_t h = BENCH_HASH_INIT;
  for (long k = 0; k < rounds; k++) {
    m->r[1] = 30000 - (uint32_t)(k % 7);
    h = bench_mix(h, run(m, sieve));
    h = bench_mix(h, m->r[8]);
    m->r[1] = 1 + (uint32_t)k * 1000;
    m->r[4] = 3000;
    h = bench_mix(h, run(m, collatz));
  }
  h = bench_mix64(h, m->steps);
  return bench_report(h);
}
