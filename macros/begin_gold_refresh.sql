{#- on-run-start of the all-or-nothing gold refresh (dbt build, run and retry). dbt replaces
    each model in its own transaction, so a build that fails at model k would leave the
    models before k refreshed and the rest not. Instead, during the build the gold models
    keep their previous versions in the holding schema (var previous_versions_schema):
    keep_previous_version moves the relation dbt would drop there, copy_previous_version
    copies an incremental table before it changes, and a ledger lists them. end_gold_refresh
    then drops the holding schema when every node succeeded, or restores every listed
    relation in ONE transaction (restore_previous_versions). A ledger left by a build that
    never reached its on-run-end (killed) is restored here first. -#}
{% macro begin_gold_refresh() %}
    {%- if execute and flags.WHICH in ['build', 'run', 'retry'] -%}
        {%- do restore_previous_versions(reason='the previous build did not finish') -%}
        {%- set holding = adapter.quote(var('previous_versions_schema')) -%}
        {%- call statement('begin_gold_refresh', auto_begin=True) -%}
            create schema if not exists {{ holding }};
            create table if not exists {{ holding }}.build_ledger (
                relation_schema text not null,
                relation_name text not null,
                schema_oid oid not null,
                previous_version text not null
                    check (previous_version in ('moved', 'copied', 'none')),
                invocation_id text not null,
                kept_at timestamptz not null default clock_timestamp(),
                primary key (relation_schema, relation_name)
            )
        {%- endcall -%}
        {%- do adapter.commit() -%}
    {%- endif -%}
{% endmacro %}
