"""The embedded default data set: spatial-reasoning questions and captions about shapes.

After the synthetic probes of the SMem-VQA paper (Xu & Saenko, 2016): images hold two to
four coloured shapes at random places on a black, light, tinted, gradient or
textured background (mixed by default), and every question needs the image:

* presence: "is there a red square?"
* absolute position: "is the red square on the top?" (the object lies
  wholly in that half; for "no" it lies wholly in the opposite half)
* relative position: "is the red square above the blue circle?" (for "no"
  the opposite relation holds)
* attribute check: "is the circle red?" (the only circle in the scene)
* colour: "what colour is the square?" (the only square in the scene)
* shape: "what shape is the red object?" (the only red object)
* count: "how many squares are there?" (0 to 3)

Every task is asked in several phrasings (`PHRASINGS`), and a share of the
yes/no questions (`negated_share`) is negated ("is there no red square?",
"is the circle not red?"), as verification questions in VQA are; the answer
of a negated question is the truth of the negated statement. Each question
records its form: "affirmative", "negated" or "open".

Every example is a pure function of (seed, index), so a stream and a data
set written to disk agree, and any slice can be made on its own. Answers are
balanced: index i asks task i mod len(tasks); with k = i // len(tasks), a
yes/no question is answered "yes" when k is even, whatever its form (the
form is drawn on its own, so each form is balanced too), a colour question
with the k-th colour (mod 6), a shape question with the k-th shape (mod 3)
and a count question with k mod 4. With a `yes_prior` p other than 0.5, each yes/no
template's statement takes its majority value (`MAJORITY_FACT`: the object
is there, is not in the named half, stands in the named relation, has the
named attribute) with probability p instead, as natural questions skew
(Goyal et al., "Making the V in VQA matter"): an affirmative question then
answers its majority answer (`MAJORITY_ANSWER`) at p, and a negated one the
opposite. Each question carries the mask of the object(s) its answer depends
on (empty when there is none).

The caption variant draws two-object scenes with one true caption each ("a
small red square above a large blue circle") and makes distractor captions
that differ from the truth in one attribute or in the relation.
"""

import dataclasses
import re

import numpy as np

from vqa_tf.data.synthetic_scenes import (
    BACKGROUNDS,
    COLORS,
    OPPOSITE,
    POSITIONS,
    SHAPES,
    SIZES,
    background,
    in_half,
    place,
    random_kinds,
    related,
    render,
)

YES_NO_TASKS = ("presence", "absolute_position", "relative_position", "attribute")
OPEN_TASKS = ("color", "shape", "count")
TASKS = YES_NO_TASKS + OPEN_TASKS
FORMS = ("affirmative", "negated", "open")
# The value each yes/no task's statement takes more often under a skewed prior, and so the majority
# answer of its affirmative questions (a negated question's is the other one).
MAJORITY_FACT = {"presence": True, "absolute_position": False, "relative_position": True, "attribute": True}
MAJORITY_ANSWER = {task: "yes" if fact else "no" for task, fact in MAJORITY_FACT.items()}
# Every phrasing of every task, by form. Fields: {color} {shape} of the object asked about, {position},
# {relation} and the second object's {other_color} {other_shape}.
PHRASINGS = {
    "presence": {
        "affirmative": (
            "is there a {color} {shape}?",
            "can you see a {color} {shape}?",
            "does the image contain a {color} {shape}?",
        ),
        "negated": ("is there no {color} {shape}?", "is the image without a {color} {shape}?"),
    },
    "absolute_position": {
        "affirmative": (
            "is there a {color} {shape} on the {position}?",
            "is the {color} {shape} on the {position}?",
            "is the {color} {shape} in the {position} half?",
        ),
        "negated": (
            "is the {color} {shape} not on the {position}?",
            "is the {color} {shape} outside the {position} half?",
        ),
    },
    "relative_position": {
        "affirmative": (
            "is the {color} {shape} {relation} the {other_color} {other_shape}?",
            "is there a {color} {shape} {relation} the {other_color} {other_shape}?",
        ),
        "negated": ("is the {color} {shape} not {relation} the {other_color} {other_shape}?",),
    },
    "attribute": {
        "affirmative": ("is the {shape} {color}?", "is the {shape} coloured {color}?"),
        "negated": ("is the {shape} not {color}?",),
    },
    "color": {
        "open": ("what colour is the {shape}?", "what color is the {shape}?", "which colour does the {shape} have?")
    },
    "shape": {"open": ("what shape is the {color} object?", "what is the shape of the {color} object?")},
    "count": {
        "open": (
            "how many {shape}s are there?",
            "how many {shape}s are in the image?",
            "what number of {shape}s is there?",
        )
    },
}
# The words of the phrasings outside their fields: the words that name no object (what
# model.hop1_skip_words takes in benchmarks/reasoning_experiments.py and benchmarks/synthetic_results.py).
NON_NAMING_WORDS = tuple(
    sorted(
        {
            word
            for forms in PHRASINGS.values()
            for phrasings in forms.values()
            for phrasing in phrasings
            for word in re.sub(r"\{\w+\}s?|\?", " ", phrasing).split()
        }
    )
)
MAX_COUNT = 3
_RELATION_TEXT = {"above": "above", "below": "below", "left of": "to the left of", "right of": "to the right of"}
_OPPOSITE_HALF = {"top": "bottom", "bottom": "top", "left": "right", "right": "left"}


@dataclasses.dataclass(frozen=True)
class SyntheticQuestion:
    index: int
    task: str
    question: str
    answer: str
    image: np.ndarray  # uint8 [S, S, 3]
    # uint8 [S, S]: k on the pixels of the k-th object the question names (k = 1, 2, …; the objects a count
    # counts share one k), 0 off the answer's evidence
    evidence_labels: np.ndarray
    objects: tuple
    form: str = "affirmative"  # one of FORMS

    @property
    def evidence_mask(self):
        """bool [S, S]: the pixels of every object the answer rests on."""
        return self.evidence_labels > 0


@dataclasses.dataclass(frozen=True)
class CaptionFact:
    """`subject` `relation` `other`, each object a (size, color, shape) triple."""

    subject: tuple
    relation: str  # one of synthetic_scenes.RELATIONS
    other: tuple

    @property
    def converse(self):
        """The same fact told from the other object: "a X above a Y" → "a Y below a X"."""
        return CaptionFact(self.other, OPPOSITE[self.relation], self.subject)

    @property
    def text(self):
        def name(obj):
            return " ".join(obj)

        return f"a {name(self.subject)} {_RELATION_TEXT[self.relation]} a {name(self.other)}"

    def holds_in(self, objects):
        """True if the scene has both objects and the relation between them."""
        by_name = {(o.size, o.color, o.shape): o for o in objects}
        subject, other = by_name.get(self.subject), by_name.get(self.other)
        return subject is not None and other is not None and related(subject, self.relation, other)


@dataclasses.dataclass(frozen=True)
class SyntheticCaption:
    index: int
    fact: CaptionFact
    image: np.ndarray
    objects: tuple

    @property
    def caption(self):
        return self.fact.text

    @property
    def captions(self):
        """Both true captions of the scene: the fact and its converse (two captions per image, as in COCO)."""
        return (self.fact.text, self.fact.converse.text)


def _name(obj):
    return f"{obj.color} {obj.shape}"


def _rng(seed, index, stream):
    return np.random.default_rng([seed, stream, index])


def _backdrop(rng, kind, image_size):
    """The background of one image: `kind`, or for "mixed" one of BACKGROUNDS drawn at random."""
    if kind == "mixed":
        kind = BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))]
    return background(rng, kind, image_size)


def _kinds_without(rng, count, shapes=SHAPES, colors=tuple(COLORS)):
    """`count` distinct (color, shape, size) kinds of the given colours and shapes."""
    pool = [(c, sh) for c in colors for sh in shapes]
    chosen = rng.choice(len(pool), size=count, replace=False)
    return [pool[i] + (list(SIZES)[int(rng.integers(len(SIZES)))],) for i in chosen]


class SpatialShapesVQA:
    """Deterministic synthetic VQA examples.

    Args:
        seed: the data set's seed; each split should use its own.
        image_size: side of the square images in pixels.
        background: one of `synthetic_scenes.BACKGROUNDS`, or "mixed".
        tasks: the question types asked, in turn (default: all of TASKS).
        yes_prior: the share of each yes/no template's majority statement
            (0.5: exactly balanced).
        negated_share: the share of yes/no questions asked negated.

    Examples:
    >>> data = SpatialShapesVQA(seed=0)
    >>> [(s.task, s.answer) for s in data.samples(7, start=7)]  # doctest: +NORMALIZE_WHITESPACE
    [('presence', 'no'), ('absolute_position', 'no'), ('relative_position', 'no'), ('attribute', 'no'),
     ('color', 'green'), ('shape', 'circle'), ('count', '1')]
    >>> sample = data.sample(10)
    >>> sample.question, sample.form, sample.answer
    ('is the triangle not blue?', 'negated', 'no')
    """

    def __init__(self, seed, image_size=64, background="mixed", tasks=TASKS, yes_prior=0.5, negated_share=0.3):
        unknown = sorted(set(tasks) - set(TASKS))
        if unknown or not tasks:
            raise ValueError(f"unknown synthetic tasks {unknown}; valid: {', '.join(TASKS)}")
        if background != "mixed" and background not in BACKGROUNDS:
            raise ValueError(f"unknown background {background!r}; valid: mixed, {', '.join(BACKGROUNDS)}")
        if not 0.0 < yes_prior < 1.0:
            raise ValueError(f"yes_prior must lie in (0, 1); got {yes_prior}")
        if not 0.0 <= negated_share <= 1.0:
            raise ValueError(f"negated_share must lie in [0, 1]; got {negated_share}")
        self.seed = seed
        self.image_size = image_size
        self.background = background
        self.tasks = tuple(tasks)
        self.yes_prior = yes_prior
        self.negated_share = negated_share

    def samples(self, count, start=0):
        for index in range(start, start + count):
            yield self.sample(index)

    def _statement_holds(self, task, index, negated):
        """Whether the statement a yes/no question verifies is true in the scene drawn for `index`."""
        turn = index // len(self.tasks)
        if self.yes_prior == 0.5:  # the answer alternates; the statement follows from it and the form
            return (turn % 2 == 0) != negated
        majority = _rng(self.seed, index, 3).random() < self.yes_prior
        return majority == MAJORITY_FACT[task]

    def _wording(self, task, index):
        """(form, phrasing template) of question `index`, drawn from a stream of its own."""
        rng = _rng(self.seed, index, 5)
        if task in YES_NO_TASKS:
            form = "negated" if rng.random() < self.negated_share else "affirmative"
        else:
            form = "open"
        templates = PHRASINGS[task][form]
        return form, templates[int(rng.integers(len(templates)))]

    def _verification_scene(self, rng, task, holds, num_distractors):
        """(objects, evidence, template fields) of a yes/no question whose statement `holds` or not.

        `evidence` lists the objects the answer rests on in the order the question names them, each as a
        list of indices into `objects`."""
        size = self.image_size
        target = random_kinds(rng, 1)[0]
        fields = {"color": target[0], "shape": target[1]}
        if task == "presence":
            distractors = random_kinds(rng, num_distractors + (0 if holds else 1), exclude=[target[:2]])
            return place(rng, ([target] if holds else []) + distractors, size), [[0]] if holds else [], fields
        if task == "absolute_position":
            position = POSITIONS[int(rng.integers(len(POSITIONS)))]
            where = position if holds else _OPPOSITE_HALF[position]
            kinds = [target] + random_kinds(rng, num_distractors, exclude=[target[:2]])
            objects = place(rng, kinds, size, [lambda objs: in_half(objs[0], where, size)])
            return objects, [[0]], {**fields, "position": position}
        if task == "relative_position":
            other = random_kinds(rng, 1, exclude=[target[:2]])[0]
            relation = list(OPPOSITE)[int(rng.integers(len(OPPOSITE)))]
            actual = relation if holds else OPPOSITE[relation]
            kinds = [target, other] + random_kinds(rng, num_distractors - 1, exclude=[target[:2], other[:2]])
            objects = place(rng, kinds, size, [lambda objs: related(objs[0], actual, objs[1])])
            fields.update(relation=_RELATION_TEXT[relation], other_color=other[0], other_shape=other[1])
            return objects, [[0], [1]], fields
        # attribute: the one object of its shape; does it have the named colour?
        shape, named = target[1], target[0]
        colors = [named] if holds else [c for c in COLORS if c != named]
        kind = _kinds_without(rng, 1, shapes=[shape], colors=colors)[0]
        others = _kinds_without(rng, num_distractors, shapes=[s for s in SHAPES if s != shape])
        return place(rng, [kind] + others, size), [[0]], fields

    def _open_scene(self, rng, task, turn, num_distractors):
        """(answer, objects, evidence, template fields) of an open question (`evidence` as in
        `_verification_scene`; the objects a count counts form one entry); `turn` picks the answer."""
        size = self.image_size
        if task == "color":  # the one object of its shape
            answer = list(COLORS)[turn % len(COLORS)]
            shape = SHAPES[int(rng.integers(len(SHAPES)))]
            target = _kinds_without(rng, 1, shapes=[shape], colors=[answer])[0]
            others = _kinds_without(rng, num_distractors, shapes=[s for s in SHAPES if s != shape])
            return answer, place(rng, [target] + others, size), [[0]], {"shape": shape}
        if task == "shape":  # the one object of its colour
            answer = SHAPES[turn % len(SHAPES)]
            color = list(COLORS)[int(rng.integers(len(COLORS)))]
            target = _kinds_without(rng, 1, shapes=[answer], colors=[color])[0]
            others = _kinds_without(rng, num_distractors, colors=[c for c in COLORS if c != color])
            return answer, place(rng, [target] + others, size), [[0]], {"color": color}
        # count: 0..MAX_COUNT objects of the asked shape among two to four
        count = turn % (MAX_COUNT + 1)
        shape = SHAPES[int(rng.integers(len(SHAPES)))]
        counted = _kinds_without(rng, count, shapes=[shape])
        num_others = int(rng.integers(max(2 - count, 0), 4 - count + 1))
        others = _kinds_without(rng, num_others, shapes=[s for s in SHAPES if s != shape])
        evidence = [list(range(count))] if count else []
        return str(count), place(rng, counted + others, size), evidence, {"shape": shape}

    def sample(self, index):
        rng = _rng(self.seed, index, 0)
        task = self.tasks[index % len(self.tasks)]
        num_distractors = int(rng.integers(1, 4))
        form, template = self._wording(task, index)
        if task in YES_NO_TASKS:
            holds = self._statement_holds(task, index, form == "negated")
            answer = "yes" if holds != (form == "negated") else "no"
            objects, evidence, fields = self._verification_scene(rng, task, holds, num_distractors)
        else:
            answer, objects, evidence, fields = self._open_scene(rng, task, index // len(self.tasks), num_distractors)
        size = self.image_size
        # Shuffle the drawing order so the target is not always painted first.
        order = rng.permutation(len(objects))
        objects = [objects[i] for i in order]
        image, masks = render(objects, size, _backdrop(_rng(self.seed, index, 4), self.background, size))
        drawn_at = np.argsort(order)  # drawn_at[i]: where object i of the scene was drawn
        labels = np.zeros((size, size), np.uint8)
        for label, named in enumerate(evidence, start=1):
            for e in named:
                labels[masks[drawn_at[e]]] = label
        return SyntheticQuestion(
            index=index,
            task=task,
            question=template.format(**fields),
            answer=answer,
            image=image,
            evidence_labels=labels,
            objects=tuple(objects),
            form=form,
        )


class SpatialShapesCaptions:
    """Deterministic two-object scenes, each with one true caption.

    In each scene the two objects are separated along exactly one axis, so
    exactly one caption of the form "a X above a Y" / "a X to the left of a
    Y" is true. `gallery(count)` keeps only scenes whose caption is new, so
    a retrieval gallery has one image per caption.

    Examples:
    >>> data = SpatialShapesCaptions(seed=0)
    >>> sample = data.sample(0)
    >>> sample.caption
    'a large blue triangle to the left of a small cyan circle'
    >>> all(not d.holds_in(sample.objects) for d in data.distractors(sample, 3))
    True
    """

    def __init__(self, seed, image_size=64, background="mixed"):
        self.seed = seed
        self.image_size = image_size
        self.background = background

    def sample(self, index):
        rng = _rng(self.seed, index, 1)
        subject, other = random_kinds(rng, 2)
        relation = ("above", "left of")[int(rng.integers(2))]
        cross = {"above": ("left of", "right of"), "left of": ("above", "below")}[relation]

        def one_axis(objs):
            a, b = objs
            return related(a, relation, b) and not any(related(a, r, b) for r in cross)

        objects = place(rng, [subject, other], self.image_size, [one_axis])
        image, _ = render(
            objects, self.image_size, _backdrop(_rng(self.seed, index, 4), self.background, self.image_size)
        )
        fact = CaptionFact(
            subject=(subject[2], subject[0], subject[1]),
            relation=relation,
            other=(other[2], other[0], other[1]),
        )
        return SyntheticCaption(index=index, fact=fact, image=image, objects=tuple(objects))

    def samples(self, count, start=0):
        for index in range(start, start + count):
            yield self.sample(index)

    def gallery(self, count, start=0, max_draws_per_image=50):
        """The first `count` samples from `start` on whose captions are all different.

        There are a few thousand distinct captions; asking for more than can
        be found in `max_draws_per_image`·count draws raises ValueError.
        """
        seen, index = set(), start
        while len(seen) < count:
            if index - start >= max_draws_per_image * count:
                raise ValueError(
                    f"found only {len(seen)} distinct captions in {index - start} draws; asked for {count}"
                )
            sample = self.sample(index)
            index += 1
            if sample.caption not in seen:
                seen.add(sample.caption)
                yield sample

    def distractors(self, sample, count):
        """Up to `count` false captions, each one change away from the true one.

        The changes: the other relation, the objects swapped, or one object's
        colour, shape or size replaced.
        """
        fact = sample.fact
        other_relation = "left of" if fact.relation == "above" else "above"
        candidates = [
            CaptionFact(fact.subject, other_relation, fact.other),
            CaptionFact(fact.other, fact.relation, fact.subject),
        ]
        for slot in ("subject", "other"):
            size, color, shape = getattr(fact, slot)
            changed = [(s, color, shape) for s in SIZES if s != size]
            changed += [(size, c, shape) for c in COLORS if c != color]
            changed += [(size, color, s) for s in SHAPES if s != shape]
            candidates += [dataclasses.replace(fact, **{slot: obj}) for obj in changed]
        false = [c for c in candidates if not c.holds_in(sample.objects)]
        rng = _rng(self.seed, sample.index, 2)
        return [false[i] for i in rng.permutation(len(false))[:count]]
