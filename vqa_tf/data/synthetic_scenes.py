"""Scenes of coloured shapes, rendered with exact per-object masks.

The scene layer of the embedded synthetic data set: objects, their
placement, backgrounds, rendering and the spatial predicates that questions
and captions are built from. Objects never overlap, so every mask is exactly
the set of pixels painted in that object's colour. Backgrounds are black,
light, tinted, gradients or textures, like the surroundings of objects in
photographs; every background pixel is nearly grey (its channels differ by at
most 50), so it never equals an object's saturated colour.
"""

import dataclasses

import numpy as np

COLORS = {
    "red": (220, 40, 40),
    "green": (40, 190, 70),
    "blue": (50, 90, 230),
    "yellow": (235, 215, 40),
    "magenta": (210, 60, 210),
    "cyan": (60, 210, 220),
}
SHAPES = ("square", "circle", "triangle")
SIZES = {"small": 5, "large": 8}  # half-extent in pixels
BACKGROUNDS = ("black", "light", "tinted", "gradient", "texture")
MAX_BACKGROUND_SPREAD = 50  # largest channel difference of a background pixel; object colours differ by ≥ 150
# Halves of the image an object can lie in, and relations between two objects.
POSITIONS = ("top", "bottom", "left", "right")
RELATIONS = ("above", "below", "left of", "right of")
OPPOSITE = {"above": "below", "below": "above", "left of": "right of", "right of": "left of"}


@dataclasses.dataclass(frozen=True)
class SceneObject:
    color: str
    shape: str
    size: str
    y: int  # centre row
    x: int  # centre column

    @property
    def radius(self):
        return SIZES[self.size]

    @property
    def kind(self):
        return (self.color, self.shape)


def object_mask(obj, image_size):
    """Boolean [image_size, image_size] mask of the pixels `obj` covers."""
    rows, cols = np.mgrid[0:image_size, 0:image_size]
    dy, dx, r = rows - obj.y, cols - obj.x, obj.radius
    if obj.shape == "square":
        return (np.abs(dy) <= r) & (np.abs(dx) <= r)
    if obj.shape == "circle":
        return dy**2 + dx**2 <= r**2
    # An upright isosceles triangle in the object's 2r+1 box: apex on top.
    return (np.abs(dy) <= r) & (2 * np.abs(dx) <= dy + r)


def cell_labels(objects, image_size, cells):
    """Per cell of a `cells`×`cells` grid: 1 + the index of the colour and of the shape of its object (0: none).

    A cell belongs to the object covering most of it, if that object covers at
    least a fifth of it: the dense labels a backbone can be pretrained on.

    Examples:
    >>> colour, shape = cell_labels([SceneObject("green", "square", "large", y=8, x=8)], image_size=32, cells=4)
    >>> colour[:2, :2].tolist(), int(shape[0, 0]), int(colour[3, 3])
    ([[2, 2], [2, 2]], 1, 0)
    """
    step = image_size // cells
    colour, shape = (np.zeros((cells, cells), np.int32) for _ in range(2))
    best = np.zeros((cells, cells))
    for obj in objects:
        cover = object_mask(obj, image_size).reshape(cells, step, cells, step).mean(axis=(1, 3))
        better = (cover > best) & (cover >= 0.2)
        colour[better] = list(COLORS).index(obj.color) + 1
        shape[better] = SHAPES.index(obj.shape) + 1
        best = np.maximum(best, cover)
    return colour, shape


def _tint(rng, level):
    """A nearly grey colour around `level`: each channel within ±MAX_BACKGROUND_SPREAD/2 of it."""
    half = MAX_BACKGROUND_SPREAD // 2
    return np.clip(level + rng.integers(-half, half + 1, size=3), 0, 255)


def background(rng, kind, image_size):
    """uint8 [image_size, image_size, 3] background of one of BACKGROUNDS.

    Examples:
    >>> image = background(np.random.default_rng(0), "texture", 64)
    >>> image.shape, int(np.ptp(image.astype(int), axis=-1).max()) <= MAX_BACKGROUND_SPREAD
    ((64, 64, 3), True)
    """
    if kind == "black":
        return np.zeros((image_size, image_size, 3), np.uint8)
    if kind == "light":
        return np.broadcast_to(rng.integers(170, 246), (image_size, image_size, 3)).astype(np.uint8)
    if kind == "tinted":
        return np.broadcast_to(_tint(rng, int(rng.integers(60, 200))), (image_size, image_size, 3)).astype(np.uint8)
    rows, cols = np.mgrid[0:image_size, 0:image_size] / (image_size - 1)
    if kind == "gradient":
        start, end = _tint(rng, int(rng.integers(30, 120))), _tint(rng, int(rng.integers(140, 230)))
        angle = rng.uniform(0, 2 * np.pi)
        t = np.cos(angle) * cols + np.sin(angle) * rows
        t = (t - t.min()) / max(np.ptp(t), 1e-9)
        return np.round(start + (end - start) * t[..., None]).astype(np.uint8)
    if kind == "texture":
        base = _tint(rng, int(rng.integers(70, 190)))
        period = rng.uniform(4, 12)
        angle = rng.uniform(0, np.pi)
        stripes = np.sin(2 * np.pi * (np.cos(angle) * cols + np.sin(angle) * rows) * image_size / period)
        noise = rng.normal(0, 6, size=(image_size, image_size))
        shade = np.clip(np.round(stripes * 18 + noise), -25, 25)  # the same for every channel: the tint stays
        return np.clip(base + shade[..., None], 0, 255).astype(np.uint8)
    raise ValueError(f"unknown background {kind!r}; valid: {', '.join(BACKGROUNDS)}")


def render(objects, image_size, backdrop=None):
    """uint8 [image_size, image_size, 3] image and one mask per object, on `backdrop` (default black)."""
    image = np.zeros((image_size, image_size, 3), np.uint8) if backdrop is None else np.array(backdrop, np.uint8)
    masks = []
    for obj in objects:
        mask = object_mask(obj, image_size)
        image[mask] = COLORS[obj.color]
        masks.append(mask)
    return image, masks


def in_half(obj, position, image_size):
    """True if the whole object lies in the named half of the image."""
    half = image_size / 2
    return {
        "top": obj.y + obj.radius < half,
        "bottom": obj.y - obj.radius >= half,
        "left": obj.x + obj.radius < half,
        "right": obj.x - obj.radius >= half,
    }[position]


def related(subject, relation, other):
    """True if `subject` is clearly `relation` `other`: their extents do not overlap on that axis."""
    gap = subject.radius + other.radius
    return {
        "above": subject.y + gap < other.y,
        "below": subject.y - gap > other.y,
        "left of": subject.x + gap < other.x,
        "right of": subject.x - gap > other.x,
    }[relation]


def _separated(a, b):
    gap = a.radius + b.radius + 2
    return abs(a.y - b.y) > gap or abs(a.x - b.x) > gap


def place(rng, kinds, image_size, constraints=(), max_tries=2000):
    """Objects of the given (color, shape, size) kinds at random, non-overlapping places.

    `constraints` are predicates over the object list that must all hold;
    placement is retried until they do.
    """
    for _ in range(max_tries):
        objects = []
        for color, shape, size in kinds:
            r = SIZES[size]
            y, x = (int(v) for v in rng.integers(r + 1, image_size - r - 1, size=2))
            objects.append(SceneObject(color, shape, size, y, x))
        if all(_separated(a, b) for i, a in enumerate(objects) for b in objects[i + 1 :]) and all(
            constraint(objects) for constraint in constraints
        ):
            return objects
    raise RuntimeError(f"could not place {kinds} under the constraints in {max_tries} tries")


def random_kinds(rng, count, exclude=()):
    """`count` distinct (color, shape) kinds not in `exclude`, each with a random size."""
    all_kinds = [(c, s) for c in COLORS for s in SHAPES if (c, s) not in set(exclude)]
    chosen = rng.choice(len(all_kinds), size=count, replace=False)
    sizes = list(SIZES)
    return [all_kinds[i] + (sizes[int(rng.integers(len(sizes)))],) for i in chosen]
