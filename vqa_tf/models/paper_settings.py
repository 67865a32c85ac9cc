"""Constructor arguments for each model at the sizes its paper reports.

The papers fix the grids, widths and answer counts (DESIGN §3); they do not
fix a question vocabulary, so every setting uses 10,000 words.
"""

PAPER_VOCAB_SIZE = 10_000

PAPER_SETTINGS = {
    "smem_vqa": dict(
        vocab_size=PAPER_VOCAB_SIZE,
        num_answers=1031,
        grid_height=7,
        grid_width=7,
        feature_dim=1024,
        embedding_dim=1000,
        max_question_length=25,
        num_hops=2,
        dropout=0.4,
    ),
    "ibowimg": dict(
        vocab_size=PAPER_VOCAB_SIZE,
        num_answers=1031,
        grid_height=7,
        grid_width=7,
        feature_dim=1024,
        embedding_dim=1000,
    ),
    "reasoning_dan": dict(
        vocab_size=PAPER_VOCAB_SIZE,
        num_answers=2000,
        grid_height=14,
        grid_width=14,
        feature_dim=2048,
        hidden_dim=512,
        num_steps=2,
        dropout=0.5,
    ),
    "matching_dan": dict(
        vocab_size=PAPER_VOCAB_SIZE,
        grid_height=14,
        grid_width=14,
        feature_dim=2048,
        hidden_dim=512,
        num_steps=2,
        dropout=0.5,
    ),
}
