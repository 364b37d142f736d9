"""Guided forms: a generic engine; each form and each eligibility rule is data.

From the bottom up: `conditions` (the `when` language), `datafiles` (schemas of the data files),
`notices` → `regions` → `rules` (eligibility rules), `parsing` → `choices` → `parsers` (answers),
`definition` (a form as a model), `state` (the follower's typed state), `actions` → `registry`
(forms and completion actions by name), `render` → `walk` → `engine` (the pure `step`),
`checks` / `api` (/api/check/*), and `validate` (`policybot validate`). Nothing here imports bot.
"""
