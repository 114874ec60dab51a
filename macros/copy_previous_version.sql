{#- Pre-hook of the gold models (all-or-nothing gold refresh, see begin_gold_refresh): an
    incremental model about to change its table in place first copies that table into the
    holding schema, in the model's own transaction, so a failed build can put the rows back. -#}
{% macro copy_previous_version() -%}
    {%- if execute and is_incremental() -%}
        {%- set holding = adapter.quote(var('previous_versions_schema')) -%}
        {%- set relation = this.include(database=false) -%}
        create table {{ holding }}.{{ adapter.quote(this.identifier) }} as table {{ relation }};
        insert into {{ holding }}.build_ledger (
            relation_schema, relation_name, schema_oid, previous_version, invocation_id
        )
        values (
            '{{ this.schema }}', '{{ this.identifier }}', to_regnamespace('{{ this.schema }}'),
            'copied', '{{ invocation_id }}'
        )
    {%- endif -%}
{%- endmacro %}
