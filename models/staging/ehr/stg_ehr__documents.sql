with

documents_source as (
    select * from {{ source('ehr', 'documents') }}
),

gender_map as (
    select * from {{ ref('gender_map') }}
),

-- materialized: the steps below use each extracted text several times; inlined, PostgreSQL
-- would repeat the JSON extraction for every use
documents_decoded as materialized (
    select
        load_id,
        loaded_at,
        source_file,
        file_md5,
        line_number,
        document is null as is_invalid_json,
        {{ json_text('document', 'patient_id') }} as patient_id,
        {{ json_text('document', ['name', 'first']) }} as first_name,
        {{ json_text('document', ['name', 'last']) }} as last_name,
        {{ json_text('document', 'date_of_birth') }} as date_of_birth_text,
        {{ json_text('document', 'gender') }} as gender_text,
        {{ json_text('document', 'ssn') }} as ssn,
        {{ json_text('document', 'phone') }} as phone,
        {{ json_text('document', 'email') }} as email,
        {{ json_text('document', ['address', 'line']) }} as address_line,
        {{ json_text('document', ['address', 'city']) }} as city,
        {{ json_text('document', ['address', 'state']) }} as state,
        {{ json_text('document', ['address', 'zip']) }} as zip,
        {{ json_text('document', 'updated_at') }} as updated_at_text,
        {{ jsonb_array_or_empty("document -> 'visits'") }} as visits
    from documents_source
),

values_parsed as (
    select
        load_id,
        loaded_at,
        source_file,
        file_md5,
        line_number,
        is_invalid_json,
        patient_id,
        first_name,
        last_name,
        {{ safe_date('date_of_birth_text') }} as date_of_birth,
        gender_text,
        ssn,
        phone,
        email,
        address_line,
        city,
        state,
        zip,
        {{ safe_timestamptz('updated_at_text') }} as updated_at,
        visits
    from documents_decoded
),

documents_checked as (
    select
        values_parsed.*,
        coalesce(gender_map.gender, 'unknown') as gender,
        case
            when values_parsed.is_invalid_json then 'invalid_json'
            when values_parsed.patient_id is null then 'missing_patient_id'
            when values_parsed.updated_at is null then 'invalid_updated_at'
        end as reject_rule
    from values_parsed
    left join gender_map
        on lower(values_parsed.gender_text) = gender_map.gender_raw
),

-- the latest accepted document of each patient: greatest (updated_at, source_file, line_number)
documents_ranked as (
    select
        *,
        reject_rule is null
        and row_number() over (
            partition by patient_id, reject_rule is null
            order by updated_at desc, source_file desc, line_number desc
        ) = 1 as is_latest_document
    from documents_checked
),

documents_final as (
    select
        load_id,
        source_file,
        file_md5,
        line_number,
        loaded_at,
        patient_id,
        first_name,
        last_name,
        date_of_birth,
        gender,
        ssn,
        phone,
        email,
        address_line,
        city,
        state,
        zip,
        updated_at,
        cast(jsonb_array_length(visits) as integer) as visit_count,
        is_latest_document,
        reject_rule,
        -- only the latest accepted document is flattened (stg_ehr__visits): keep its visits
        case when is_latest_document then visits end as visits
    from documents_ranked
)

select * from documents_final
