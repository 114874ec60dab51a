with

visits as (
    select * from {{ ref('stg_ehr__visits') }}
),

-- the provider notes of every visit of the latest documents, in array order
notes_unnested as (
    select
        visits.visit_id,
        visits.patient_id,
        visits.visit_ordinal,
        visits.reject_rule as visit_reject_rule,
        visits.source_file,
        visits.file_md5,
        visits.line_number,
        visits.load_id,
        cast(note_elements.note_number as integer) as note_number,
        note_elements.note
    from visits
    cross join
        lateral jsonb_array_elements(
            {{ jsonb_array_or_empty("visits.visit -> 'provider_notes'") }}
        ) with ordinality as note_elements (note, note_number)
),

-- materialized: the steps below use each extracted text several times; inlined, PostgreSQL
-- would repeat the JSON extraction for every use
notes_decoded as materialized (
    select
        {{ json_text('note', 'note_id') }} as note_id,
        visit_id,
        patient_id,
        visit_ordinal,
        note_number,
        {{ json_text('note', 'author_provider_id') }} as author_provider_id,
        {{ json_text('note', 'written_at') }} as written_at_text,
        note ->> 'text' as note_text,
        visit_reject_rule,
        source_file,
        file_md5,
        line_number,
        load_id
    from notes_unnested
),

notes_parsed as (
    select
        note_id,
        visit_id,
        patient_id,
        visit_ordinal,
        note_number,
        author_provider_id,
        {{ safe_timestamptz('written_at_text') }} as written_at,
        note_text,
        visit_reject_rule,
        source_file,
        file_md5,
        line_number,
        load_id
    from notes_decoded
),

notes_checked as (
    select
        note_id,
        visit_id,
        patient_id,
        visit_ordinal,
        note_number,
        author_provider_id,
        written_at,
        note_text,
        source_file,
        file_md5,
        line_number,
        load_id,
        case
            when visit_reject_rule is not null then 'rejected_visit'
            when note_id is null then 'missing_note_id'
            when written_at is null then 'invalid_written_at'
        end as reject_rule
    from notes_parsed
)

select * from notes_checked
