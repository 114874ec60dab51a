{%- set amounts = ['billed_amount', 'allowed_amount', 'paid_amount'] -%}
{%- set dates = ['admit_date', 'discharge_date', 'service_date'] -%}

with

claims_source as (
    select * from {{ source('claims', 'claim_versions') }}
),

claim_type_map as (
    select * from {{ ref('claim_type_map') }}
),

claim_status_map as (
    select * from {{ ref('claim_status_map') }}
),

-- materialized: the steps below use each extracted text several times; inlined, PostgreSQL
-- would repeat the JSON extraction for every use
fields_trimmed as materialized (
    select
        load_id,
        source_file,
        file_md5,
        line_number,
        loaded_at,
        record is null as is_malformed,
        {{ json_text('record', 'claim_id') }} as claim_id,
        {{ json_text('record', 'claim_version') }} as claim_version_text,
        {{ json_text('record', 'patient_id') }} as patient_id,
        {{ json_text('record', 'provider_id') }} as provider_id,
        lower({{ json_text('record', 'claim_type') }}) as claim_type_text,
        {%- for date_column in dates %}
            {{ json_text('record', date_column) }} as {{ date_column }}_text,
        {%- endfor %}
        upper({{ json_text('record', 'primary_dx') }}) as primary_dx,
        {{ json_text('record', 'procedure_code') }} as procedure_code,
        {%- for amount in amounts %}
            {{ json_text('record', amount) }} as {{ amount }}_text,
        {%- endfor %}
        lower({{ json_text('record', 'status') }}) as status_text
    from claims_source
),

-- materialized: the parsed values are used several times below
values_parsed as materialized (
    select
        fields_trimmed.*,
        {{ safe_integer('fields_trimmed.claim_version_text') }} as claim_version_number,
        {%- for date_column in dates %}
            {{ safe_date('fields_trimmed.' ~ date_column ~ '_text') }} as {{ date_column }},
        {%- endfor %}
        {%- for amount in amounts %}
            {{ safe_numeric('fields_trimmed.' ~ amount ~ '_text') }} as {{ amount }}_number,
        {%- endfor %}
        claim_type_map.claim_type,
        claim_status_map.claim_status as status
    from fields_trimmed
    left join claim_type_map
        on fields_trimmed.claim_type_text = claim_type_map.claim_type_raw
    left join claim_status_map
        on fields_trimmed.status_text = claim_status_map.claim_status_raw
),

versions_checked as (
    select
        *,
        case when claim_version_number >= 1 then claim_version_number end as claim_version,
        case
            when is_malformed then 'malformed_row'
            when claim_id is null then 'missing_claim_id'
            when claim_version_number is null or claim_version_number < 1 then 'invalid_claim_version'
            when patient_id is null then 'missing_patient_id'
            when provider_id is null then 'missing_provider_id'
            when claim_type is null then 'unknown_claim_type'
            when status is null then 'unknown_status'
            when
                {%- for date_column in dates %}
                    ({{ date_column }}_text is not null and {{ date_column }} is null)
                    {%- if not loop.last %} or{% endif %}
                {%- endfor %}
                then 'invalid_date'
            when service_date is null then 'missing_service_date'
            when discharge_date < admit_date then 'discharge_before_admission'
            when
                {%- for amount in amounts %}
                    {{ amount }}_number < 0{% if not loop.last %} or{% endif %}
                {%- endfor %}
                then 'negative_amount'
            when
                {%- for amount in amounts %}
                    ({{ amount }}_text is not null and {{ to_money(amount ~ '_number') }} is null)
                    {%- if not loop.last %} or{% endif %}
                {%- endfor %}
                then 'invalid_amount'
            when primary_dx is null or primary_dx !~ '{{ var("icd10_code_pattern") }}'
                then 'malformed_icd10_code'
        end as reject_rule
    from values_parsed
),

-- the latest version of each claim, among the rows with a claim_id and a valid version:
-- greatest (claim_version, source_file, line_number); an identical re-send counts once
versions_ranked as (
    select
        *,
        claim_id is not null
        and claim_version is not null
        and row_number() over (
            partition by claim_id, claim_version is not null
            order by claim_version desc, source_file desc, line_number desc
        ) = 1 as is_latest_version
    from versions_checked
),

versions_final as (
    select
        load_id,
        source_file,
        file_md5,
        line_number,
        loaded_at,
        claim_id,
        claim_version,
        patient_id,
        provider_id,
        claim_type,
        admit_date,
        discharge_date,
        service_date,
        primary_dx,
        procedure_code,
        {%- for amount in amounts %}
            {{ to_money(amount ~ '_number') }} as {{ amount }},
        {%- endfor %}
        status,
        is_latest_version,
        reject_rule
    from versions_ranked
)

select * from versions_final
