{#- on-run-end: USAGE on the bi schema for the analyst role (var warehouse_roles), so the select
    grants of the bi views (+grants in dbt_project.yml) can be used; nothing else is granted. -#}
{% macro grant_bi_usage() -%}
    {%- if execute and flags.WHICH in ['build', 'run', 'retry'] -%}
        {%- set bi_schema = generate_schema_name('bi', none) -%}
        do $grant_bi_usage$
        begin
            if to_regnamespace('{{ bi_schema }}') is not null then
                grant usage on schema {{ adapter.quote(bi_schema) }}
                    to {{ adapter.quote(var('warehouse_roles')['analyst']) }};
            end if;
        end
        $grant_bi_usage$
    {%- endif -%}
{%- endmacro %}
