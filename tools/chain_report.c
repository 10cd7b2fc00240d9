/* SPDX-License-Identifier: MIT */
/* The chain report of a camera's folder (chain_report.h). The chain's
 * members are the files that authenticated as this camera's VGSEAL02
 * segments, at the number they were sealed under; each names the segment
 * before it and how that one ended (docs/sealed-segments.md). A link holds
 * when the segment it names is there with the tag it binds. Findings are
 * printed in number order. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "chain_report.h"

struct member {
	const struct chain_file *f;
	uint32_t pos;	    /* the number it was sealed under */
	const uint8_t *run; /* the run that made it */
	const uint8_t *head_tag;
	bool weak;	 /* its header alone: proven only by the link of the segment after it */
	bool cut;	 /* no final chunk */
	bool explained;	 /* cut where its run ended without a clean stop, or abandoned */
	bool abandoned;	 /* the segment after it says so */
	bool named;	 /* a later segment's link names it */
	bool reported;	 /* a finding says what it is */
	bool in_broken;	 /* a link naming it does not hold ... */
	bool out_broken; /* ... nor does its own */
	uint32_t broken_by;
};

struct finding {
	uint32_t num, last; /* a number, or a range */
	unsigned order;
	char text[VIGIL_SEAL_ERR_BYTES + 200];
};

struct report {
	const struct chain_folder *d;
	struct member *m;
	unsigned n;
	struct finding *fd;
	unsigned n_fd, cap_fd;
	unsigned problems, cuts, losses;
};

__attribute__((format(printf, 5, 6))) static void say(struct report *r, uint32_t num, uint32_t last,
						      bool problem, const char *fmt, ...)
{
	struct finding *f;
	va_list ap;

	if (r->n_fd == r->cap_fd) {
		unsigned cap = r->cap_fd ? 2 * r->cap_fd : 32;
		struct finding *v = realloc(r->fd, cap * sizeof(*v));

		if (v == NULL)
			abort(); /* a report cannot be left half said */
		r->fd = v;
		r->cap_fd = cap;
	}
	f = &r->fd[r->n_fd];
	f->num = num;
	f->last = last;
	f->order = r->n_fd++;
	va_start(ap, fmt);
	vsnprintf(f->text, sizeof(f->text), fmt, ap);
	va_end(ap);
	r->problems += problem;
}

static int by_finding(const void *a, const void *b)
{
	const struct finding *x = a, *y = b;

	if (x->num != y->num)
		return x->num < y->num ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

static int by_pos(const void *a, const void *b)
{
	const struct member *x = a, *y = b;

	if (x->pos != y->pos)
		return x->pos < y->pos ? -1 : 1;
	return x->f->number < y->f->number ? -1 : x->f->number > y->f->number;
}

/* The first index of members (sorted by pos) at pos or after it. */
static unsigned member_from(const struct report *r, uint32_t pos)
{
	unsigned lo = 0, hi = r->n;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		if (r->m[mid].pos < pos)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct member *member_at(struct report *r, uint32_t pos)
{
	unsigned i = member_from(r, pos);

	return i < r->n && r->m[i].pos == pos ? &r->m[i] : NULL;
}

/* The first of n sorted numbers at num or after it. */
static unsigned num_from(const uint32_t *v, size_t stride, unsigned n, uint32_t num)
{
	unsigned lo = 0, hi = n;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		if (*(const uint32_t *)((const char *)v + mid * stride) < num)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* A file of that number is there (a finding of its own says what it is when it is not a member). */
static bool other_file(const struct report *r, uint32_t num)
{
	const struct chain_file *f = r->d->files;
	unsigned i = num_from(&f->number, sizeof(*f), r->d->n_files, num);

	return i < r->d->n_files && f[i].number == num;
}

/* The files that are members, and what the others are. */
static void members(struct report *r)
{
	const struct chain_folder *d = r->d;

	for (unsigned i = 0; i < d->n_files; i++) {
		const struct chain_file *f = &d->files[i];
		struct member *m = &r->m[r->n];

		if (f->rc >= 0 && f->info.version == 1) {
			say(r, f->number, f->number, false,
			    "VGSEAL01, the format before chains: opens alone, in no chain");
			continue;
		}
		if (f->rc >= 0 && strcmp(f->info.camera, d->camera) != 0) {
			say(r, f->number, f->number, true,
			    "holds camera %s's segment %08" PRIu32 ": moved from another camera",
			    f->info.camera, f->info.segment);
			continue;
		}
		*m = (struct member){
		    .f = f, .pos = f->number, .run = f->info.run, .head_tag = f->peek.head_tag};
		if (f->rc >= 0) {
			if (f->info.segment != f->number)
				say(r, f->number, f->number, true,
				    "holds segment %08" PRIu32 ": renamed or reordered", f->info.segment);
			m->pos = f->info.segment;
			m->cut = f->rc == 1;
		} else if (f->rc == -ENODATA && f->peeked && f->info.chunks == 0 &&
			   f->peek.segment == f->number && strcmp(f->peek.camera, d->camera) == 0) {
			m->weak = m->cut = true; /* cut before its first chunk, if the next segment says so */
			m->run = f->peek.run;
		} else {
			say(r, f->number, f->number, true, "refused: %s", f->err);
			continue;
		}
		r->n++;
	}
	qsort(r->m, r->n, sizeof(*r->m), by_pos);
	for (unsigned i = 1; i < r->n; i++) {
		if (r->m[i].pos != r->m[i - 1].pos)
			continue;
		say(r, r->m[i].f->number, r->m[i].f->number, true,
		    "holds segment %08" PRIu32 ", as %08" PRIu32 ".ts.sealed does: a copy", r->m[i].pos,
		    r->m[i - 1].f->number);
		memmove(&r->m[i], &r->m[i + 1], (r->n - i - 1) * sizeof(*r->m));
		r->n--;
		i--;
	}
}

/* A cut segment is what a crash leaves when no later segment of its run
 * is whole and the run did not stop cleanly (the next run's first segment
 * says so; with no next run, vigild may still be running or not have
 * restarted). */
static void crash_tails(struct report *r)
{
	for (unsigned g = 0, end; g < r->n; g = end) {
		unsigned whole = UINT32_MAX; /* the group's last whole member */
		bool crashed;

		for (end = g; end < r->n && memcmp(r->m[end].run, r->m[g].run, VIGIL_SEAL_RUN_BYTES) == 0;
		     end++)
			if (!r->m[end].cut)
				whole = end;
		crashed = end == r->n || r->m[end].weak ||
			  (r->m[end].f->info.link.kind != VIGIL_SEAL_LINK_STOPPED &&
			   r->m[end].f->info.link.kind != VIGIL_SEAL_LINK_NEXT &&
			   r->m[end].f->info.link.kind != VIGIL_SEAL_LINK_ABANDONED);
		for (unsigned i = g; i < end; i++)
			r->m[i].explained = r->m[i].cut && crashed && (whole == UINT32_MAX || i > whole);
	}
}

/* Each member's link to the segment it names. */
static void links(struct report *r)
{
	for (unsigned i = 0; i < r->n; i++) {
		struct member *s = &r->m[i], *t;
		const struct vigil_seal_link *link = &s->f->info.link;
		bool by_head = vigil_seal_link_by_head(link->kind), holds;
		uint32_t p = link->prev;

		if (s->weak)
			continue; /* its link is not authenticated */
		if (link->kind == VIGIL_SEAL_LINK_NONE) {
			if (i > 0)
				say(r, s->pos, s->pos, true,
				    "starts a chain of its own, after sealed segments it does not follow");
			continue;
		}
		if (p >= s->pos) {
			say(r, s->pos, s->pos, true, "its link names %08" PRIu32 ", not an earlier segment",
			    p);
			continue;
		}
		t = member_at(r, p);
		if (t == NULL) {
			if (other_file(r, p))
				continue;
			if (i == 0)
				say(r, s->pos, s->pos, false,
				    "the chain here starts after %08" PRIu32
				    ", which is not here: removed by retention, or "
				    "deleted (the two are not told apart)",
				    p);
			else if (by_head) {
				r->losses++;
				say(r, p, p, false, "%s",
				    link->kind == VIGIL_SEAL_LINK_ABANDONED
					? "lost: abandoned after a write error (vigild counted it)"
					: "lost: being recorded when vigild stopped without closing it "
					  "(a crash), or removed since");
			} else
				say(r, p, p, true, "missing");
			continue;
		}
		t->named = true;
		holds = by_head ? memcmp(t->head_tag, link->tag, VIGIL_SEAL_TAG_BYTES) == 0
				: !t->cut && memcmp(t->f->info.tag, link->tag, VIGIL_SEAL_TAG_BYTES) == 0;
		if (holds && by_head && t->cut) {
			t->explained = true; /* the segment after it says it was never closed */
			t->abandoned = link->kind == VIGIL_SEAL_LINK_ABANDONED;
		}
		if (holds || (t->cut && t->explained))
			continue;
		if (!by_head && t->cut) {
			say(r, p, p, true,
			    "cut short after it was closed (%08" PRIu32 " follows it whole): truncated, "
			    "not by a crash",
			    s->pos);
			t->reported = true;
			continue;
		}
		s->out_broken = t->in_broken = true;
		t->broken_by = s->pos;
	}
}

/* Members between two that link to each other directly: one backward
 * pass, keeping the link that reaches furthest back. */
static void inserted(struct report *r)
{
	const struct member *by = NULL;
	unsigned lo = UINT32_MAX;

	for (unsigned k = r->n; k-- > 0;) {
		const struct member *s = &r->m[k];
		const struct vigil_seal_link *link = &s->f->info.link;

		if (by != NULL && lo <= k && !r->m[k].reported) {
			say(r, s->pos, s->pos, true,
			    "not in the chain: %08" PRIu32 " follows %08" PRIu32
			    " (inserted, or from another run)",
			    by->pos, by->f->info.link.prev);
			r->m[k].reported = true;
		}
		if (!s->weak && link->kind != VIGIL_SEAL_LINK_NONE && link->prev < s->pos &&
		    member_from(r, link->prev + 1) < lo) {
			lo = member_from(r, link->prev + 1);
			by = s;
		}
	}
}

/* Links that do not hold: a segment neither end of which holds was
 * replaced; a single one cannot say which of its two ends was. */
static void broken(struct report *r)
{
	for (unsigned i = 0; i < r->n; i++) {
		struct member *x = &r->m[i];

		if (x->in_broken && x->out_broken) {
			say(r, x->pos, x->pos, true,
			    "replaced: it does not follow %08" PRIu32 ", and %08" PRIu32
			    " does not follow it",
			    x->f->info.link.prev, x->broken_by);
			x->reported = true;
		}
	}
	for (unsigned i = 0; i < r->n; i++) {
		struct member *s = &r->m[i], *t = member_at(r, s->f->info.link.prev);

		if (s->out_broken && !s->reported && !(t->in_broken && t->out_broken)) {
			say(r, s->pos, s->pos, true,
			    "does not follow %08" PRIu32 ": one of the two was replaced", t->pos);
			s->reported = true;
		}
	}
}

/* Nothing names x, a member before next: the segments after x are gone,
 * up to the one next names (which its own finding covers), or to next
 * when it starts a chain. Plain segments and other files in between are
 * not missing. Said as ranges: a forged link cannot make it count to
 * four billion. */
static void gap(struct report *r, const struct member *x, const struct member *next)
{
	const struct vigil_seal_link *link = &next->f->info.link;
	const struct chain_folder *d = r->d;
	uint32_t last = next->weak || link->kind == VIGIL_SEAL_LINK_NONE ? next->pos - 1 : link->prev - 1;
	uint32_t from = x->pos + 1;
	unsigned p, f;

	if (!next->weak && link->kind != VIGIL_SEAL_LINK_NONE && link->prev <= x->pos)
		return; /* next passes over x: said as not in the chain */
	p = num_from(d->plain, sizeof(*d->plain), d->n_plain, from);
	f = num_from(&d->files->number, sizeof(*d->files), d->n_files, from);
	while (from <= last) {
		uint32_t there = UINT32_MAX; /* the first number from `from` on that is there */

		if (p < d->n_plain)
			there = d->plain[p];
		if (f < d->n_files && d->files[f].number < there)
			there = d->files[f].number;
		if (there > last) {
			say(r, from, last, true, "missing");
			break;
		}
		if (there > from)
			say(r, from, there - 1, true, "missing");
		from = there + 1;
		while (p < d->n_plain && d->plain[p] < from)
			p++;
		while (f < d->n_files && d->files[f].number < from)
			f++;
	}
}

static void cuts_and_gaps(struct report *r)
{
	for (unsigned i = 0; i < r->n; i++) {
		struct member *x = &r->m[i];

		if (x->cut && !x->reported) {
			if (x->abandoned)
				say(r, x->pos, x->pos, false,
				    "cut short: abandoned after a write error (vigild "
				    "counted it)");
			else if (x->explained && x->weak)
				say(r, x->pos, x->pos, false,
				    "its header alone: cut by a crash before its first chunk, "
				    "as at the end of a run");
			else if (x->explained)
				say(r, x->pos, x->pos, false,
				    "cut short by a crash, as at the end of a run: what "
				    "authenticated opens with --partial");
			else
				say(r, x->pos, x->pos, true,
				    x->weak ? "refused: %s"
					    : "cut short, not by a crash: "
					      "truncated (%s)",
				    x->f->err);
			r->cuts += x->explained;
		}
		if (i + 1 < r->n && !x->named)
			gap(r, x, &r->m[i + 1]);
	}
}

static const char *began(enum vigil_seal_link_kind kind)
{
	switch (kind) {
	case VIGIL_SEAL_LINK_NONE:
		return "the first of the camera's chain";
	case VIGIL_SEAL_LINK_STOPPED:
		return "began after a clean stop";
	case VIGIL_SEAL_LINK_CRASHED:
		return "began after vigild stopped without closing its last segment (a crash)";
	case VIGIL_SEAL_LINK_DISK:
	case VIGIL_SEAL_LINK_DISK_CUT:
		return "began from the newest sealed segment on disk, without chain state (newest segments "
		       "removed before it would not show)";
	default:
		return "continuing a run whose earlier segments are not in this chain";
	}
}

/* What is not in the chain, and the runs of it. */
static void context(struct report *r)
{
	const struct chain_folder *d = r->d;
	char hex[2 * VIGIL_SEAL_RUN_BYTES + 1];

	for (unsigned i = 0; i < d->n_plain; i++) {
		unsigned j = i;

		while (j + 1 < d->n_plain && d->plain[j + 1] == d->plain[j] + 1)
			j++;
		say(r, d->plain[i], d->plain[j], false,
		    "plain, not sealed (recorded while the camera had no OwnerKey)");
		i = j;
	}
	for (unsigned i = 0; i < d->n_partial; i++)
		say(r, (uint32_t)strtoul(d->partial[i], NULL, 10), UINT32_MAX, false,
		    "%s: being recorded, or left by a crash (vigild recovers it at its next start)",
		    d->partial[i]);
	for (unsigned i = 0; i < r->n; i++) {
		unsigned j = i;

		if (r->m[i].weak)
			continue;
		while (j + 1 < r->n && memcmp(r->m[j + 1].run, r->m[i].run, VIGIL_SEAL_RUN_BYTES) == 0)
			j++;
		sodium_bin2hex(hex, sizeof(hex), r->m[i].run, VIGIL_SEAL_RUN_BYTES);
		say(r, r->m[i].pos, r->m[j].pos, false, "run %.8s, %s", hex,
		    began(r->m[i].f->info.link.kind));
		i = j;
	}
}

unsigned chain_report(const struct chain_folder *d, FILE *out)
{
	struct report r = {.d = d, .m = calloc(d->n_files + 1, sizeof(*r.m))};
	char hex[2 * VIGIL_SEAL_TAG_BYTES + 1];

	if (r.m == NULL)
		abort();
	members(&r);
	crash_tails(&r);
	links(&r);
	inserted(&r);
	broken(&r);
	cuts_and_gaps(&r);
	context(&r);
	qsort(r.fd, r.n_fd, sizeof(*r.fd), by_finding);
	for (unsigned i = 0; i < r.n_fd; i++) {
		const struct finding *f = &r.fd[i];

		if (f->last == UINT32_MAX)
			fprintf(out, "%s: %s\n", d->camera, f->text);
		else if (f->last != f->num)
			fprintf(out, "%s: %08" PRIu32 "-%08" PRIu32 ": %s\n", d->camera, f->num, f->last,
				f->text);
		else
			fprintf(out, "%s: %08" PRIu32 ": %s\n", d->camera, f->num, f->text);
	}
	if (r.n > 0) {
		const struct member *top = &r.m[r.n - 1];

		sodium_bin2hex(hex, sizeof(hex), top->cut ? top->head_tag : top->f->info.tag,
			       VIGIL_SEAL_TAG_BYTES);
		fprintf(out, "%s: newest %08" PRIu32 ", %s tag %s\n", d->camera, top->pos,
			top->cut ? "head" : "chain", hex);
	}
	if (r.problems > 0)
		fprintf(out, "%s: %u sealed segment(s) in the chain: %u problem(s)\n", d->camera, r.n,
			r.problems);
	else if (r.cuts + r.losses > 0)
		fprintf(out,
			"%s: %u sealed segment(s) in the chain: whole but for what crashes explain (%u cut, "
			"%u lost)\n",
			d->camera, r.n, r.cuts, r.losses);
	else
		fprintf(out, "%s: %u sealed segment(s) in the chain: whole\n", d->camera, r.n);
	free(r.m);
	free(r.fd);
	return r.problems;
}
