#!/usr/bin/env python3
"""Writes the malformed-module corpus: NAME.wasm + NAME.err for each case.

This script is the readable source of the corpus; the .wasm and .err files
it writes are committed next to it. Run it after editing a case:

    python3 tests/malformed/make_corpus.py

Each case is a module built from byte pieces, plus the exact error the
engine must report (see README.md for the .err format). A Mark("at") piece
records the byte offset where the error is expected, so offsets are stated
by structure ("at the first byte of the name"), not counted by hand.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def leb(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


class Mark:
    def __init__(self, name="at"):
        self.name = name


class Sized:
    """Pieces prefixed with their byte length as a u32 LEB128."""

    def __init__(self, *pieces):
        self.pieces = pieces

    def ser(self):
        content, marks = ser(self.pieces)
        head = leb(len(content))
        return head + content, {k: v + len(head) for k, v in marks.items()}


class Sec(Sized):
    """A section: id, size, content."""

    def __init__(self, sid, *pieces):
        super().__init__(*pieces)
        self.sid = sid

    def ser(self):
        body, marks = super().ser()
        return bytes([self.sid]) + body, {k: v + 1 for k, v in marks.items()}


def ser(pieces):
    out = bytearray()
    marks = {}
    for p in pieces:
        if isinstance(p, Mark):
            marks[p.name] = len(out)
        elif isinstance(p, Sized):
            b, m = p.ser()
            for k, v in m.items():
                marks[k] = len(out) + v
            out += b
        elif isinstance(p, str):
            out += bytes.fromhex(p)
        else:
            out += p
    return bytes(out), marks


def name(s):
    """A Wasm name: LEB128 length, then the bytes, after a Mark("at")."""
    if isinstance(s, str):
        s = s.encode()
    return Sized(Mark("at"), s)


HEADER = "00 61 73 6d 01 00 00 00"
TYPE_VOID = Sec(1, "01 60 00 00")                 # type 0: [] -> []
IMPORT_F = Sec(2, "01", name("env"), name("f"), "00 00")  # func 0 = env.f
FUNC1 = Sec(3, "01 00")                           # func 1: type 0


def in_func1(*body):
    """A module whose function 1 (after one imported function) has `body`
    (without the local declarations, which are empty)."""
    return [HEADER, TYPE_VOID, IMPORT_F, FUNC1, Sec(10, "01", Sized("00", *body))]


CASES = []


def case(nm, desc, pieces, code, message, at="at", section=None, func=None):
    CASES.append((nm, desc, pieces, code, message, at, section, func))


# ---- header ---------------------------------------------------------------
case("header_bad_magic", "the magic is \\0asn",
     ["00 61 73 6e 01 00 00 00"], "WG_EMAGIC", "magic header not detected", 0)
case("header_empty", "an empty file", [], "WG_EMAGIC",
     "magic header not detected", 0)
case("header_truncated_magic", "three bytes of magic", ["00 61 73"],
     "WG_EMAGIC", "magic header not detected", 0)
case("header_bad_version", "version 2", ["00 61 73 6d 02 00 00 00"],
     "WG_EVERSION", "unknown binary version", 4)
case("header_truncated_version", "two bytes of version", ["00 61 73 6d 01 00"],
     "WG_EVERSION", "unknown binary version", 4)

# ---- sections -------------------------------------------------------------
case("section_truncated", "the type section's size (10) is more than the "
     "file has left (3); the error is after the size",
     [HEADER, "01 0a", Mark(), "01 60 00"], "WG_EEOF", "unexpected end")
case("section_header_truncated", "a section id and no size",
     [HEADER, "01", Mark()], "WG_EEOF", "unexpected end")
case("section_size_mismatch", "the type section declares one byte more "
     "than its content uses; the error is at the left-over byte",
     [HEADER, Sec(1, "01 60 00 00", Mark(), "00")], "WG_ESECSIZE",
     "section size mismatch (section 1 has 1 bytes left over)", section=1)
case("section_content_overruns", "the type section's size (4) ends inside "
     "its only entry, before the result count; the file goes on",
     [HEADER, "01 04 01 60 01 7f", Mark(), "00"], "WG_EEOF", "unexpected end",
     section=1)
case("section_id_unknown", "section id 13",
     [HEADER, Mark(), "0d 00"], "WG_ESECTION", "malformed section id 13")
case("section_duplicate", "two type sections",
     [HEADER, Sec(1, "00"), Mark(), Sec(1, "00")], "WG_ESECORDER",
     "unexpected section id 1 (duplicate or out of order)")
case("section_out_of_order", "a type section after a function section; "
     "the error names the offending section (1), not the previous one",
     [HEADER, Sec(3, "00"), Mark(), Sec(1, "00")], "WG_ESECORDER",
     "unexpected section id 1 (duplicate or out of order)", section=1)
case("section_datacount_after_data", "data count (12) must precede data",
     [HEADER, Sec(11, "00"), Mark(), Sec(12, "00")], "WG_ESECORDER",
     "unexpected section id 12 (duplicate or out of order)")

# ---- LEB128 ---------------------------------------------------------------
case("leb_u32_overlong", "a 6-byte u32 (the type count); the error is "
     "after the 5th byte, whose continuation bit is set",
     [HEADER, Sec(1, "80 80 80 80 80", Mark(), "00")], "WG_ELEB",
     "integer representation too long", section=1)
case("leb_u32_unused_bits", "a 5-byte u32 whose last byte sets bit 32 "
     "(the type count 2^32)",
     [HEADER, Sec(1, "80 80 80 80 10", Mark())], "WG_ELEBRANGE",
     "integer too large", section=1)
case("leb_section_size_overlong", "a 6-byte section size",
     [HEADER, "01 80 80 80 80 80", Mark(), "00"], "WG_ELEB",
     "integer representation too long")
case("leb_i32_const_too_large", "i32.const ff ff ff ff 0f: the last byte's "
     "unused bits are not sign copies",
     in_func1("41 ff ff ff ff 0f", Mark(), "1a 0b"), "WG_ELEBRANGE",
     "integer too large", func=1)
case("leb_i32_const_overlong", "i32.const with 6 bytes",
     in_func1("41 80 80 80 80 80", Mark(), "00 1a 0b"), "WG_ELEB",
     "integer representation too long", func=1)
case("leb_i64_const_too_large", "i64.const with 10 bytes, the last 0x02",
     in_func1("42 80 80 80 80 80 80 80 80 80 02", Mark(), "1a 0b"),
     "WG_ELEBRANGE", "integer too large", func=1)

# ---- UTF-8 names ----------------------------------------------------------
def import_mod(modname, field):
    return [HEADER, Sec(2, "01", modname, field, "00 00")]


def export_mod(nm):
    return [HEADER, Sec(7, "01", nm, "00 00")]


def custom_mod(nm):
    return [HEADER, Sec(0, nm, "01 02 03")]


U = "malformed UTF-8 encoding"
case("utf8_import_module_overlong", "import module name C0 80 (overlong NUL)",
     import_mod(name(b"\xc0\x80"), Sized(b"f")), "WG_EUTF8", U, section=2)
case("utf8_import_name_surrogate", "import name ED A0 80 (U+D800)",
     import_mod(Sized(b"env"), name(b"\xed\xa0\x80")), "WG_EUTF8", U, section=2)
case("utf8_import_name_truncated", "import name 'a' E2 82 (3-byte sequence "
     "cut short)", import_mod(Sized(b"env"), name(b"a\xe2\x82")),
     "WG_EUTF8", U, section=2)
case("utf8_export_name_overlong", "export name E0 9F BF (U+07FF in 3 bytes)",
     export_mod(name(b"\xe0\x9f\xbf")), "WG_EUTF8", U, section=7)
case("utf8_export_name_surrogate", "export name ED BF BF (U+DFFF)",
     export_mod(name(b"x\xed\xbf\xbf")), "WG_EUTF8", U, section=7)
case("utf8_export_name_truncated", "export name F0 9F 98 (4-byte sequence "
     "cut short)", export_mod(name(b"\xf0\x9f\x98")), "WG_EUTF8", U, section=7)
case("utf8_custom_name_overlong", "custom section name F0 80 80 80",
     custom_mod(name(b"\xf0\x80\x80\x80")), "WG_EUTF8", U, section=0)
case("utf8_custom_name_surrogate", "custom section name ED A0 BD",
     custom_mod(name(b"\xed\xa0\xbd")), "WG_EUTF8", U, section=0)
case("utf8_custom_name_truncated", "custom section name ending in C3",
     custom_mod(name(b"ok\xc3")), "WG_EUTF8", U, section=0)
case("utf8_custom_name_above_max", "custom section name F4 90 80 80 "
     "(above U+10FFFF)", custom_mod(name(b"\xf4\x90\x80\x80")),
     "WG_EUTF8", U, section=0)
case("utf8_custom_name_lone_continuation", "custom section name 80",
     custom_mod(name(b"\x80")), "WG_EUTF8", U, section=0)

# ---- segment and body counts ----------------------------------------------
case("datacount_mismatch", "data count 2, one data segment; the error is "
     "after the data section's count",
     [HEADER, Sec(12, "02"), Sec(11, "01", Mark(), "01 00")], "WG_EDATACOUNT",
     "data count and data section have inconsistent lengths "
     "(2 declared, 1 segments)", section=11)
case("datacount_without_data", "data count 1 and no data section; the "
     "error is at the end of the module",
     [HEADER, Sec(12, "01"), Mark()], "WG_EDATACOUNT",
     "data count and data section have inconsistent lengths", section=-1)
MEM1 = Sec(5, "01 00 01")
PASSIVE_DATA = Sec(11, "01 01 00")
case("memory_init_without_datacount", "memory.init 0 in a module without a "
     "data count section; the error is after the segment index",
     [HEADER, TYPE_VOID, IMPORT_F, FUNC1, MEM1,
      Sec(10, "01", Sized("00 41 00 41 00 41 00 fc 08 00", Mark(), "00 0b")),
      PASSIVE_DATA], "WG_ENODATACOUNT", "data count section required", func=1)
case("data_drop_without_datacount", "data.drop 0 without a data count section",
     [HEADER, TYPE_VOID, IMPORT_F, FUNC1, MEM1,
      Sec(10, "01", Sized("00 fc 09 00", Mark(), "0b")), PASSIVE_DATA],
     "WG_ENODATACOUNT", "data count section required", func=1)
case("funccode_mismatch", "two functions, one body; the error is after the "
     "code section's count",
     [HEADER, TYPE_VOID, Sec(3, "02 00 00"), Sec(10, "01", Mark(), Sized("00 0b"))],
     "WG_EFUNCCODE", "function and code section have inconsistent lengths "
     "(2 functions, 1 bodies)", section=10)
case("funccode_missing_code", "one function and no code section; the error "
     "is at the end of the module",
     [HEADER, TYPE_VOID, Sec(3, "01 00"), Mark()], "WG_EFUNCCODE",
     "function and code section have inconsistent lengths", section=-1)
case("funccode_code_without_functions", "a body and no function section",
     [HEADER, TYPE_VOID, Sec(10, "01", Mark(), Sized("00 0b"))],
     "WG_EFUNCCODE", "function and code section have inconsistent lengths "
     "(0 functions, 1 bodies)", section=10)
case("body_overruns_section", "a body size (5) larger than the section",
     [HEADER, TYPE_VOID, Sec(3, "01 00"), Sec(10, "01 05", Mark(), "00 0b")],
     "WG_EEOF", "function body overruns the section", section=10)

# ---- function bodies ------------------------------------------------------
case("opcode_unknown", "opcode 0x06; the error is at the opcode",
     in_func1("01", Mark(), "06 0b"), "WG_EMALFORMED", "illegal opcode 0x06",
     func=1)
case("opcode_unknown_fc", "opcode 0xfc 99; the error is at the 0xfc prefix",
     in_func1(Mark(), "fc 63 0b"), "WG_EMALFORMED", "illegal opcode 0xfc 99",
     func=1)
case("opcode_unknown_in_func0", "opcode 0xff in function 0 (no imports): "
     "the error names function 0 and the code section",
     [HEADER, TYPE_VOID, FUNC1, Sec(10, "01", Sized("00", Mark(), "ff 0b"))],
     "WG_EMALFORMED", "illegal opcode 0xff", section=10, func=0)
case("body_missing_end", "a body that ends without `end`; the error is at "
     "the end of the body",
     in_func1("01", Mark()), "WG_EEOF",
     "unexpected end of function body (missing end)", func=1)
case("body_bytes_after_end", "a byte after the body's final `end`",
     in_func1("0b", Mark(), "01"), "WG_ESECSIZE",
     "section size mismatch: bytes after the function's end", func=1)
case("locals_too_many", "two groups of 2^32-1 locals: more than 2^32-1; "
     "the error is after the second group",
     [HEADER, TYPE_VOID, FUNC1,
      Sec(10, "01", Sized("02 ff ff ff ff 0f 7f ff ff ff ff 0f 7f", Mark(), "0b"))],
     "WG_EMALFORMED", "too many locals", section=10)
case("locals_over_limit", "50001 locals: over the engine's limit of 50000; "
     "the error is after the local declarations",
     [HEADER, TYPE_VOID, FUNC1, Sec(10, "01", Sized("01 d1 86 03 7f", Mark(), "0b"))],
     "WG_EIMPLIMIT", "too many locals (50001, limit 50000)", section=10)

# ---- other malformed encodings --------------------------------------------
case("valtype_unknown", "parameter type 0x7a",
     [HEADER, Sec(1, "01 60 01", Mark(), "7a 00")], "WG_EMALFORMED",
     "malformed value type 0x7a", section=1)
case("functype_form", "function type form 0x61",
     [HEADER, Sec(1, "01", Mark(), "61 00 00")], "WG_EMALFORMED",
     "malformed function type 0x61", section=1)
case("global_mutability", "global mutability 2",
     [HEADER, Sec(6, "01 7f", Mark(), "02 41 00 0b")], "WG_EMALFORMED",
     "malformed mutability", section=6)
case("import_kind", "import kind 4",
     [HEADER, Sec(2, "01", Sized(b"m"), Sized(b"n"), Mark(), "04 00")],
     "WG_EMALFORMED", "malformed import kind 4", section=2)
case("export_kind", "export kind 4",
     [HEADER, Sec(7, "01", Sized(b"e"), Mark(), "04 00")], "WG_EMALFORMED",
     "malformed export kind 4", section=7)
case("const_expr_not_constant", "a global initialised with i32.add",
     [HEADER, Sec(6, "01 7f 00 41 01 41 02", Mark(), "6a 0b")], "WG_EINVALID",
     "constant expression required (opcode 0x6a)", section=6)

# ---- module-level validation (no byte offset is kept for these) -----------
case("invalid_unknown_type", "function 0 has type 5 of 1",
     [HEADER, TYPE_VOID, Sec(3, "01 05"), Sec(10, "01", Sized("00 0b"))],
     "WG_EINVALID", "unknown type 5", -1, section=3)
case("invalid_multiple_memories", "two memories",
     [HEADER, Sec(5, "02 00 01 00 01")], "WG_EINVALID", "multiple memories",
     -1, section=5)
case("invalid_duplicate_export", "two exports named x",
     [HEADER, Sec(5, "01 00 01"), Sec(7, "02", Sized(b"x"), "02 00",
                                      Sized(b"x"), "02 00")],
     "WG_EINVALID", "duplicate export name", -1, section=7)
case("invalid_start_type", "a start function with a parameter",
     [HEADER, Sec(1, "01 60 01 7f 00"), Sec(3, "01 00"), Sec(8, "00"),
      Sec(10, "01", Sized("00 0b"))],
     "WG_EINVALID", "start function must be [] -> []", -1, section=8)


def main():
    names = set()
    for nm, desc, pieces, code, message, at, section, func in CASES:
        assert nm not in names, nm
        names.add(nm)
        data, marks = ser(pieces)
        if isinstance(at, str):
            if at not in marks:
                sys.exit(f"{nm}: no Mark({at!r})")
            offset = marks[at]
        else:
            offset = at
        with open(os.path.join(HERE, nm + ".wasm"), "wb") as f:
            f.write(data)
        lines = [f"# {desc}", "# bytes: " + (data.hex(" ") or "(none)"),
                 f"code {code}", f"message {message}", f"offset {offset}"]
        if section is not None:
            lines.append(f"section {section}")
        if func is not None:
            lines.append(f"func {func}")
        with open(os.path.join(HERE, nm + ".err"), "w") as f:
            f.write("\n".join(lines) + "\n")
    print(f"wrote {len(CASES)} cases to {HERE}")


if __name__ == "__main__":
    main()
