{#- Post-hook of the gold models (all-or-nothing gold refresh, see begin_gold_refresh): dbt has
    just renamed the model's previous relation to <name>__dbt_backup and will drop it after
    the commit; move it into the holding schema instead (in the model's own transaction), or
    note that the model had no previous relation. -#}
{% macro keep_previous_version() -%}
    {%- if execute -%}
        {%- set holding = adapter.quote(var('previous_versions_schema')) -%}
        {%- set backup = make_backup_relation(this.incorporate(type='table'), 'table').include(database=false) -%}
        do $keep_previous_version$
        begin
            if to_regclass('{{ backup }}') is not null then
                alter table {{ backup }} set schema {{ holding }};
                alter table {{ holding }}.{{ adapter.quote(backup.identifier) }}
                    rename to {{ adapter.quote(this.identifier) }};
                insert into {{ holding }}.build_ledger (
                    relation_schema, relation_name, schema_oid, previous_version, invocation_id
                )
                values (
                    '{{ this.schema }}', '{{ this.identifier }}', to_regnamespace('{{ this.schema }}'),
                    'moved', '{{ invocation_id }}'
                );
            else
                -- an incremental model changed in place was copied by copy_previous_version
                insert into {{ holding }}.build_ledger (
                    relation_schema, relation_name, schema_oid, previous_version, invocation_id
                )
                values (
                    '{{ this.schema }}', '{{ this.identifier }}', to_regnamespace('{{ this.schema }}'),
                    'none', '{{ invocation_id }}'
                )
                on conflict (relation_schema, relation_name) do nothing;
            end if;
        end
        $keep_previous_version$
    {%- endif -%}
{%- endmacro %}
