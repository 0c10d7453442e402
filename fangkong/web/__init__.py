"""What pages and API operations share, above the access module (lib, below it, knows no
app): running an action and answering its refusal on a form (forms.attempt, submitted),
and the factories of transition pages and operations (forms.transition_pages,
operations.transition_ops) that carry the access markers."""
