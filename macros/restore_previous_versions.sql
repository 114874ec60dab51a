{#- All-or-nothing gold refresh: put back, in ONE transaction, every relation the holding
    schema's ledger lists (see begin_gold_refresh), then drop the holding schema. Runs its own
    statements and commits; returns the restored relations as 'schema.name'. -#}
{% macro restore_previous_versions(reason='restore_previous_versions run by hand') %}
    {%- set holding_name = var('previous_versions_schema') -%}
    {%- set holding = adapter.quote(holding_name) -%}
    {%- set restored = [] -%}
    {%- set ledger_exists = run_query(
        "select to_regclass(format('%I.build_ledger', '" ~ holding_name ~ "')) is not null"
    ).columns[0].values()[0] -%}
    {%- if ledger_exists -%}
        {#- the ledger rows, with what is there now; a schema dropped and created again since
            (a reset) makes its rows obsolete: their kept versions are dropped, not restored -#}
        {%- set ledger = run_query(
            "select ledger.relation_schema, ledger.relation_name, ledger.previous_version,"
            ~ " ledger.invocation_id, current_relation.relkind as current_kind,"
            ~ " coalesce(ledger.schema_oid = namespace.oid, false) as is_same_schema"
            ~ " from " ~ holding ~ ".build_ledger as ledger"
            ~ " left join pg_namespace as namespace on ledger.relation_schema = namespace.nspname"
            ~ " left join pg_class as current_relation"
            ~ " on namespace.oid = current_relation.relnamespace"
            ~ " and ledger.relation_name = current_relation.relname"
            ~ " order by ledger.kept_at"
        ) -%}
        {%- set statements = [] -%}
        {%- for entry in ledger.rows if entry['is_same_schema'] -%}
            {%- set relation = adapter.quote(entry['relation_schema']) ~ '.' ~ adapter.quote(entry['relation_name']) -%}
            {%- set kept_name = previous_version_name(entry['relation_schema'], entry['relation_name']) -%}
            {%- set kept = holding ~ '.' ~ adapter.quote(kept_name) -%}
            {%- if entry['previous_version'] == 'copied' -%}
                {#- changed in place (incremental): the rows go back into the same table;
                    columns the failed build appended (on_schema_change) go away -#}
                {%- set appended = run_query(
                    "select column_name from information_schema.columns as current_columns"
                    ~ " where table_schema = '" ~ entry['relation_schema'] ~ "'"
                    ~ " and table_name = '" ~ entry['relation_name'] ~ "'"
                    ~ " and not exists (select from information_schema.columns as kept_columns"
                    ~ " where kept_columns.table_schema = '" ~ holding_name ~ "'"
                    ~ " and kept_columns.table_name = current_columns.table_name"
                    ~ " and kept_columns.column_name = current_columns.column_name)"
                ).columns[0].values() -%}
                {%- for column in appended -%}
                    {%- do statements.append('alter table ' ~ relation ~ ' drop column ' ~ adapter.quote(column)) -%}
                {%- endfor -%}
                {%- do statements.append('truncate table ' ~ relation) -%}
                {%- do statements.append('insert into ' ~ relation ~ ' select * from ' ~ kept) -%}
                {%- do statements.append('analyze ' ~ relation) -%}
            {%- else -%}
                {#- if exists: a bi view goes already with its gold table (cascade) -#}
                {%- if entry['current_kind'] == 'v' -%}
                    {%- do statements.append('drop view if exists ' ~ relation ~ ' cascade') -%}
                {%- elif entry['current_kind'] == 'm' -%}
                    {%- do statements.append('drop materialized view if exists ' ~ relation ~ ' cascade') -%}
                {%- elif entry['current_kind'] is not none -%}
                    {%- do statements.append('drop table if exists ' ~ relation ~ ' cascade') -%}
                {%- endif -%}
                {%- if entry['previous_version'] == 'moved' -%}
                    {%- do statements.append('alter table ' ~ kept ~ ' set schema ' ~ adapter.quote(entry['relation_schema'])) -%}
                    {%- if kept_name != entry['relation_name'] -%}
                        {%- do statements.append('alter table ' ~ adapter.quote(entry['relation_schema']) ~ '.'
                            ~ adapter.quote(kept_name) ~ ' rename to ' ~ adapter.quote(entry['relation_name'])) -%}
                    {%- endif -%}
                {%- endif -%}
            {%- endif -%}
            {%- do restored.append(entry['relation_schema'] ~ '.' ~ entry['relation_name']) -%}
        {%- endfor -%}
        {%- do statements.append('drop schema ' ~ holding ~ ' cascade') -%}
        {%- call statement('restore_previous_versions', auto_begin=True) -%}
            {{ statements | join(';\n') }}
        {%- endcall -%}
        {%- do adapter.commit() -%}
        {#- relations this build created are gone again: tell dbt's relation cache -#}
        {%- for entry in ledger.rows if entry['is_same_schema'] and entry['previous_version'] == 'none' -%}
            {%- do adapter.cache_dropped(api.Relation.create(
                database=target.database, schema=entry['relation_schema'],
                identifier=entry['relation_name'])) -%}
        {%- endfor -%}
        {%- if restored -%}
            {{ log(
                "All-or-nothing gold: " ~ reason ~ "; " ~ (restored | length)
                ~ " relation(s) put back as they were before build "
                ~ (ledger.columns['invocation_id'].values() | unique | join(', ')) ~ ": "
                ~ (restored | join(', ')),
                info=True
            ) }}
        {%- endif -%}
    {%- endif -%}
    {{ return(restored) }}
{% endmacro %}
