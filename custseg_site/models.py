# No models: this app holds site-wide glue (roles, API error format). A models module makes Django send it post_migrate.
