{#- All-or-nothing refresh: the views outside the holding schema that read a relation kept in it
    (their model's table was rebuilt, they were not), as 'schema.name'. -#}
{% macro views_on_previous_versions() %}
    {%- set holding = var('previous_versions_schema') -%}
    {%- set found = run_query(
        "select distinct dependent_namespace.nspname || '.' || dependent.relname"
        ~ " from pg_depend as dependency"
        ~ " inner join pg_rewrite as rewrite on dependency.objid = rewrite.oid"
        ~ " inner join pg_class as dependent on rewrite.ev_class = dependent.oid"
        ~ " inner join pg_namespace as dependent_namespace on dependent.relnamespace = dependent_namespace.oid"
        ~ " inner join pg_class as referenced on dependency.refobjid = referenced.oid"
        ~ " inner join pg_namespace as referenced_namespace"
        ~ " on referenced.relnamespace = referenced_namespace.oid"
        ~ " where dependency.classid = 'pg_rewrite'::regclass"
        ~ " and referenced_namespace.nspname = '" ~ holding ~ "'"
        ~ " and dependent_namespace.nspname <> '" ~ holding ~ "'"
        ~ " order by 1"
    ) -%}
    {{ return(found.columns[0].values() | list) }}
{% endmacro %}
