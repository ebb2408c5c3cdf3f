/*
** A strict multipart/form-data parser (RFC 7578 over RFC 2046) working on
** a whole, already size-capped body. Parts point into the body; nothing is
** copied except the names from the part headers.
*/
#ifndef WG_SERVER_MULTIPART_H
#define WG_SERVER_MULTIPART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SRV_MP_BOUNDARY_MAX 70   /* RFC 2046 */
#define SRV_MP_MAX_PARTS 16

typedef struct srv_part {
  char name[64];               /* Content-Disposition: form-data; name= */
  char filename[256];          /* "" when none given */
  bool has_filename;
  char content_type[128];      /* "" when none given */
  const uint8_t *data;         /* points into the body */
  size_t len;
} srv_part;

/* Extracts the boundary parameter of a multipart/form-data Content-Type
** into out (at least SRV_MP_BOUNDARY_MAX+1 bytes). False with why when
** the type is not multipart/form-data or the boundary is missing or bad. */
bool srv_multipart_boundary(const char *content_type, char *out,
                            char *why, size_t whysize);

/* Splits body into at most maxparts parts. False with why (naming what is
** wrong and where) on any deviation from the format: missing or
** unterminated delimiters, malformed part headers, a part without a
** form-data name, duplicate names, too many parts. */
bool srv_multipart_parse(const uint8_t *body, size_t len,
                         const char *boundary, srv_part *parts,
                         size_t maxparts, size_t *nparts, char *why,
                         size_t whysize);

/* The part called name, or NULL. */
const srv_part *srv_multipart_find(const srv_part *parts, size_t n,
                                   const char *name);

#endif
