with

visits as (
    select * from {{ ref('stg_ehr__visits') }}
),

-- the diagnoses of every visit of the latest documents, in array order
diagnoses_unnested as (
    select
        visits.visit_id,
        visits.patient_id,
        visits.visit_ordinal,
        visits.reject_rule as visit_reject_rule,
        visits.source_file,
        visits.file_md5,
        visits.line_number,
        visits.load_id,
        cast(diagnosis_elements.diagnosis_number as integer) as diagnosis_number,
        diagnosis_elements.diagnosis
    from visits
    cross join
        lateral jsonb_array_elements(
            {{ jsonb_array_or_empty("visits.visit -> 'diagnoses'") }}
        ) with ordinality as diagnosis_elements (diagnosis, diagnosis_number)
),

-- materialized: the steps below use each extracted text several times; inlined, PostgreSQL
-- would repeat the JSON extraction for every use
diagnoses_decoded as materialized (
    select
        visit_id,
        patient_id,
        visit_ordinal,
        diagnosis_number,
        upper({{ json_text('diagnosis', 'code') }}) as icd10_code,
        {{ json_text('diagnosis', 'description') }} as description,
        coalesce(
            jsonb_typeof(diagnosis -> 'is_primary') = 'boolean' and cast(diagnosis ->> 'is_primary' as boolean),
            false
        ) as is_primary,
        visit_reject_rule,
        source_file,
        file_md5,
        line_number,
        load_id
    from diagnoses_unnested
),

diagnoses_checked as (
    select
        visit_id,
        patient_id,
        visit_ordinal,
        diagnosis_number,
        icd10_code,
        description,
        is_primary,
        source_file,
        file_md5,
        line_number,
        load_id,
        case
            when visit_reject_rule is not null then 'rejected_visit'
            when icd10_code is null or icd10_code !~ '{{ var("icd10_code_pattern") }}'
                then 'malformed_icd10_code'
        end as reject_rule
    from diagnoses_decoded
)

select * from diagnoses_checked
