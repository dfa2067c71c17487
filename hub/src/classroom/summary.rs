//! The end-of-session summary, sans-IO: questions asked, response rate, correct rate, and who never
//! answered, from each student's latest answer to each question.

use std::collections::BTreeSet;

/// A student's latest answer to one question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatestAnswer {
    /// The question.
    pub question: u32,
    /// Its correct answer, if it had one (`"B"`, `"AC"`).
    pub correct: Option<String>,
    /// The answer given.
    pub answer: String,
    /// The student.
    pub student: String,
}

/// The numbers of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Questions asked.
    pub questions: u32,
    /// Answers ÷ (questions × students), in whole percent; `None` without questions or students.
    pub response_rate_pct: Option<u32>,
    /// Correct ÷ answers to questions with a correct answer, in whole percent; `None` without any.
    pub correct_rate_pct: Option<u32>,
    /// Students on the list who never answered, by name.
    pub never_answered: Vec<String>,
}

/// Summarises a session with `questions` asked, `students` on its list, and their latest answers.
pub fn summarize(questions: u32, students: &[String], answers: &[LatestAnswer]) -> Summary {
    let percent = |part: usize, whole: usize| (whole > 0).then(|| ((part * 100 + whole / 2) / whole) as u32);
    let on_list: BTreeSet<&str> = students.iter().map(String::as_str).collect();
    let answered: BTreeSet<&str> = answers.iter().map(|a| a.student.as_str()).collect();
    let counted = answers.iter().filter(|a| on_list.contains(a.student.as_str())).count();
    let judged: Vec<&LatestAnswer> = answers.iter().filter(|a| a.correct.is_some()).collect();
    let right = judged.iter().filter(|a| a.correct.as_deref() == Some(a.answer.as_str())).count();
    Summary {
        questions,
        response_rate_pct: percent(counted, questions as usize * students.len()),
        correct_rate_pct: percent(right, judged.len()),
        never_answered: on_list.difference(&answered).map(|s| (*s).to_owned()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(question: u32, correct: Option<&str>, answer: &str, student: &str) -> LatestAnswer {
        LatestAnswer { question, correct: correct.map(Into::into), answer: answer.into(), student: student.into() }
    }

    #[test]
    fn four_students_two_questions_one_never_answers() {
        let students: Vec<String> = ["Anna", "Bram", "Cem", "Daan"].map(String::from).to_vec();
        let answers = [
            answer(1, Some("B"), "B", "Anna"),
            answer(1, Some("B"), "C", "Bram"),
            answer(1, Some("B"), "B", "Cem"),
            answer(2, None, "A", "Anna"),
            answer(2, None, "D", "Cem"),
        ];
        let s = summarize(2, &students, &answers);
        assert_eq!(s.questions, 2);
        assert_eq!(s.response_rate_pct, Some(63), "5 of 8 possible answers");
        assert_eq!(s.correct_rate_pct, Some(67), "2 of 3 answers to the question with a correct answer");
        assert_eq!(s.never_answered, ["Daan"]);
    }

    #[test]
    fn no_questions_no_rates() {
        let s = summarize(0, &["Anna".to_owned()], &[]);
        assert_eq!((s.response_rate_pct, s.correct_rate_pct), (None, None));
        assert_eq!(s.never_answered, ["Anna"]);
    }
}
