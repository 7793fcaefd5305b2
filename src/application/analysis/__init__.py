"""Use cases of the analysis pipeline: uploads, relay, webhooks, job queries and housekeeping."""
